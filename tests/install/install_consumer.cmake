# ctest install_consumer: `cmake --install` the build tree into a fresh prefix, then configure,
# build and run tests/install/consumer against it with find_package(Sextant) (CMAKE_PREFIX_PATH
# names only that prefix, so nothing of the build tree can leak in). Seconds with a warm ccache.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DCXX=... -DGENERATOR=Ninja
#         [-DLAUNCHER=ccache] [-DSANITIZE=address,undefined] -P install_consumer.cmake
foreach(v BUILD_DIR SOURCE_DIR WORK_DIR CXX GENERATOR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "install_consumer.cmake needs -D${v}=...")
  endif()
endforeach()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# What a user gets: the package, the public headers and the programs, and no internal header.
foreach(f lib/cmake/Sextant/SextantConfig.cmake lib/cmake/Sextant/SextantConfigVersion.cmake
          lib/cmake/Sextant/SextantTargets.cmake include/sextant/sextant.h include/sextant/client.h
          include/sextant/rag.h bin/sextantd bin/sextant)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "cmake --install did not install ${f}")
  endif()
endforeach()
file(GLOB_RECURSE internal RELATIVE ${prefix}/include ${prefix}/include/*)
foreach(h ${internal})
  if(NOT h MATCHES "^sextant/[a-z_]+\\.h$")
    message(FATAL_ERROR "cmake --install installed a header that is not public: include/${h}")
  endif()
endforeach()

set(launcher "")
if(LAUNCHER)
  set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
# A sanitizer build's libraries need the same -fsanitize at link time (scripts/test.sh's ASan pass).
set(sanitize "")
if(SANITIZE)
  set(sanitize "-DCMAKE_CXX_FLAGS=-fsanitize=${SANITIZE}" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE}")
endif()
run("configuring the consumer" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/build
    -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX} ${launcher} ${sanitize}
    -DCMAKE_PREFIX_PATH=${prefix})
run("building the consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
file(MAKE_DIRECTORY ${WORK_DIR}/db)
run("running the consumer" ${WORK_DIR}/build/consumer ${WORK_DIR}/db)
if(NOT last_output MATCHES "consumer ok")
  message(FATAL_ERROR "the consumer printed:\n${last_output}")
endif()
message(STATUS "installed Sextant found, built against and run: ${last_output}")
