# `cmake --install build --prefix P` and find_package(Sextant): the public headers, the libraries
# and the package files that let another CMake project write
#
#   find_package(Sextant REQUIRED)                       # CMAKE_PREFIX_PATH=P
#   target_link_libraries(app PRIVATE Sextant::sextant)  # the embedded engine
#   target_link_libraries(app PRIVATE Sextant::client)   # the gRPC client of sextantd
#
# (and Sextant::rag for text collections). The engine is a set of static libraries, one per layer;
# the facades link the layers privately, which static linking still needs, so every layer is
# installed and exported too (as Sextant::sextant_<layer>), but only the public headers
# (engine/include/sextant, client/cpp/include/sextant) are installed: the layers' internal headers
# stay in the source tree. sextantd and the `sextant` tool go to bin/, where sextant.connect()
# of the Python client finds sextantd on PATH. Tested by tests/install (ctest -R install_consumer).
include(CMakePackageConfigHelpers)

set(SEXTANT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Sextant)

set(_sextant_install_targets sextant_sync sextant_util sextant_simd sextant_index sextant_storage sextant_payload
    sextant_text sextant_collection sextant sextant_rag)
set_target_properties(sextant_rag PROPERTIES EXPORT_NAME rag)
if(TARGET sextant_client)
  list(APPEND _sextant_install_targets sextant_proto sextant_convert sextant_client)
  set_target_properties(sextant_client PROPERTIES EXPORT_NAME client)
endif()

install(TARGETS ${_sextant_install_targets} EXPORT SextantTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/engine/include/sextant DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
if(TARGET sextant_client)
  install(FILES ${PROJECT_SOURCE_DIR}/client/cpp/include/sextant/client.h
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sextant)
endif()
if(TARGET sextantd)
  install(TARGETS sextantd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
if(TARGET sextant_cli)
  install(TARGETS sextant_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

install(EXPORT SextantTargets NAMESPACE Sextant:: FILE SextantTargets.cmake DESTINATION ${SEXTANT_CMAKE_DIR})
# The package's own config also works from the build tree (CMAKE_PREFIX_PATH=build), uninstalled.
export(EXPORT SextantTargets NAMESPACE Sextant:: FILE ${PROJECT_BINARY_DIR}/SextantTargets.cmake)

if(TARGET sextant_client)
  set(SEXTANT_WITH_CLIENT ON)
else()
  set(SEXTANT_WITH_CLIENT OFF)
endif()
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/SextantConfig.cmake.in
  ${PROJECT_BINARY_DIR}/SextantConfig.cmake INSTALL_DESTINATION ${SEXTANT_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/SextantConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/SextantConfig.cmake ${PROJECT_BINARY_DIR}/SextantConfigVersion.cmake
        DESTINATION ${SEXTANT_CMAKE_DIR})
