# Small helpers so that every CMakeLists.txt reads as a list.
#
#   ss_library(NAME SRCS a.cc b.cc DEPS x y [PRIVATE_DEPS z])
#   ss_test(NAME SRCS a_test.cc DEPS x [LABELS unit])
#   ss_tsan_sync(TARGET)   (TSan builds: see cmake/tsan/grpc_sync.cc)

# ThreadSanitizer builds link cmake/tsan/grpc_sync.cc into every test and the
# signalscaler binary: it tells TSan the happens-before edges of Debian's
# uninstrumented abseil mutexes, gRPC completion queue tags and server call
# reference counts. The executable exports its definitions so that
# libgrpc/libgpr/libgrpc++ bind to them (grpc_sync.dynlist).
if(SIGNALSCALER_SANITIZE MATCHES "thread")
  add_library(ss_tsan_grpc_sync OBJECT ${PROJECT_SOURCE_DIR}/cmake/tsan/grpc_sync.cc)
  target_compile_options(ss_tsan_grpc_sync PRIVATE ${SIGNALSCALER_WARNINGS})
  target_include_directories(ss_tsan_grpc_sync PRIVATE
    $<TARGET_PROPERTY:gRPC::grpc,INTERFACE_INCLUDE_DIRECTORIES>
    $<TARGET_PROPERTY:absl::synchronization,INTERFACE_INCLUDE_DIRECTORIES>)
endif()

function(ss_tsan_sync name)
  if(TARGET ss_tsan_grpc_sync)
    target_sources(${name} PRIVATE $<TARGET_OBJECTS:ss_tsan_grpc_sync>)
    target_link_options(${name} PRIVATE
      -Wl,--dynamic-list=${PROJECT_SOURCE_DIR}/cmake/tsan/grpc_sync.dynlist)
  endif()
endfunction()

function(ss_library name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_compile_options(${name} PRIVATE ${SIGNALSCALER_WARNINGS})
  target_link_libraries(${name} PUBLIC ${A_DEPS} PRIVATE ${A_PRIVATE_DEPS})
endfunction()

function(ss_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${A_SRCS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_compile_options(${name} PRIVATE ${SIGNALSCALER_WARNINGS})
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  ss_tsan_sync(${name})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  # ctest -j starts the tests of higher COST first (when it has no timings
  # of its own yet, as in CI): a test declared with a longer TIMEOUT (the
  # end-to-end ones take minutes) starts first and the rest run beside it.
  set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
    COST ${A_TIMEOUT}
    ENVIRONMENT "SIGNALSCALER_SOURCE_DIR=${PROJECT_SOURCE_DIR};SIGNALSCALER_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()
