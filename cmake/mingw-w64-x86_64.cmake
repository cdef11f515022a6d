# Cross-building shmkit for 64-bit Windows with Debian's mingw-w64
# (gcc-mingw-w64-x86-64): cmake -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
# `make windows` does it into build-win/; the tests run under wine (wine64).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(SHMKIT_MINGW_TRIPLET x86_64-w64-mingw32)

# The win32-threads flavour where Debian installs both: shmkit uses the
# Windows API itself, so nothing needs libwinpthread-1.dll at run time.
find_program(CMAKE_C_COMPILER NAMES ${SHMKIT_MINGW_TRIPLET}-gcc-win32 ${SHMKIT_MINGW_TRIPLET}-gcc)
find_program(CMAKE_RC_COMPILER NAMES ${SHMKIT_MINGW_TRIPLET}-windres)
set(CMAKE_FIND_ROOT_PATH /usr/${SHMKIT_MINGW_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# Run the cross-built tests with wine (ctest uses this for add_test commands
# that name a target).
find_program(SHMKIT_WINE NAMES wine64 wine)
if(SHMKIT_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SHMKIT_WINE})
endif()
