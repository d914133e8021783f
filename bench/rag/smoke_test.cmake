# ctest's rag_bench_smoke: runs sextant-rag-bench with the hash embedder on the first documents of
# python-faq and Cranfield and checks its two JSON lines, with a floor on retrieval quality well
# below what the full sets give (bench/README.md). Nothing about time.
# cmake -DBENCH=path/to/sextant-rag-bench -P smoke_test.cmake
execute_process(
  COMMAND ${BENCH} --embedders hash --datasets faq,cranfield --max-docs 150 --max-queries 40
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}")
if(rc EQUAL 77)
  # No data folder: ctest marks the test skipped on this message (SKIP_REGULAR_EXPRESSION).
  message("${err}")
  return()
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sextant-rag-bench exited with ${rc}:\n${err}")
endif()

function(expect regex what)
  if(NOT out MATCHES "${regex}")
    message(FATAL_ERROR "no ${what} in the output (expected a line matching ${regex})\nstderr:\n${err}")
  endif()
endfunction()

expect("{\"dataset\":\"python-faq\",\"embedder\":\"hash:[^\n]*\"documents\":150,[^\n]*\"questions\":40,"
       "python-faq line over 150 documents and 40 questions")
expect("{\"dataset\":\"cranfield\",\"embedder\":\"hash:[^\n]*\"documents\":150,"
       "Cranfield line over 150 documents")
# Quality floors: far below the full-set figures, far above chance.
expect("\"recall_at_5\":(0\\.[3-9]|1\\.0)" "python-faq recall@5 of at least 0.3")
expect("\"ndcg_at_10\":(0\\.[1-9]|1\\.0)" "Cranfield nDCG@10 of at least 0.1")
foreach(stage embed retrieve generate total)
  expect("\"${stage}_p50_ms\":[0-9.]+,\"${stage}_p99_ms\":[0-9.]+" "${stage} latency percentiles")
endforeach()
