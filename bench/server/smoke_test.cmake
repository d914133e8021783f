# ctest's server_bench_smoke: runs sextant-server-bench on a small synthetic set and checks its
# output lines. cmake -DBENCH=path/to/sextant-server-bench -P smoke_test.cmake
execute_process(
  COMMAND ${BENCH} --synthetic 2000,16 --queries 50 --index Flat --clients 1,2 --duration-s 0.5 --warmup-s 0.2
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sextant-server-bench exited with ${rc}:\n${err}")
endif()

function(expect regex what)
  if(NOT out MATCHES "${regex}")
    message(FATAL_ERROR "no ${what} in the output (expected a line matching ${regex})\nstderr:\n${err}")
  endif()
endfunction()

expect("{\"client\":\"inprocess\",\"points\":2000," "ingest line")
foreach(clients 1 2)
  # Flat is exact: every neighbour must come back, in-process and over gRPC alike.
  expect("{\"mode\":\"inprocess\",\"clients\":${clients},\"qps\":[0-9.]+,\"p50_us\":[0-9.]+,\"p99_us\":[0-9.]+,\"recall\":1\\.0000,"
         "in-process line for ${clients} clients with recall 1")
  expect("{\"mode\":\"grpc\",\"clients\":${clients},\"qps\":[0-9.]+,\"p50_us\":[0-9.]+,\"p99_us\":[0-9.]+,\"recall\":1\\.0000,"
         "gRPC line for ${clients} clients with recall 1")
  expect("{\"mode\":\"summary\",\"clients\":${clients},[^\n]*\"overhead_ratio\":[0-9.]+"
         "summary line for ${clients} clients")
endforeach()
# Each client its own connection (a closing connection of the previous setting may still count).
expect("\"mode\":\"grpc\",\"clients\":2,[^\n]*\"connections\":[2-9]," "a connection per gRPC client")
