# CMake generated Testfile for 
# Source directory: /work/main/tests
# Build directory: /work/main/build/tests
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test([=[test_smoke]=] "/work/main/build/tests/test_smoke")
set_tests_properties([=[test_smoke]=] PROPERTIES  ENVIRONMENT "SHMKIT_CLI=/work/main/build/shmkit;SHMKIT_SRC=/work/main" SKIP_RETURN_CODE "77" TIMEOUT "300" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;12;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[zz_leftovers]=] "bash" "/work/main/tests/leftovers.sh")
set_tests_properties([=[zz_leftovers]=] PROPERTIES  TIMEOUT "30" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;27;add_test;/work/main/tests/CMakeLists.txt;0;")
