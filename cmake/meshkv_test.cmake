# meshkv_test(NAME name SRCS a.cc b.cc DEPS lib... [LABELS l...] [TIMEOUT s])
#
# One line per test: builds a GoogleTest binary and registers it with CTest.
# Binaries run from the build directory so they can find meshkv-server and
# friends through MESHKV_BIN_DIR.
function(meshkv_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SRCS})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gmock GTest::gtest_main)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  # Sanitized code runs several times slower (the simulation under ASan, on
  # two shared cores: 17 minutes for 40 seeds), so it gets more time.
  if(MESHKV_SANITIZE)
    math(EXPR T_TIMEOUT "${T_TIMEOUT} * 3")
  endif()
  set_tests_properties(${T_NAME} PROPERTIES
    TIMEOUT ${T_TIMEOUT}
    LABELS "${T_LABELS}"
    ENVIRONMENT "MESHKV_BIN_DIR=${PROJECT_BINARY_DIR}/bin")
endfunction()
