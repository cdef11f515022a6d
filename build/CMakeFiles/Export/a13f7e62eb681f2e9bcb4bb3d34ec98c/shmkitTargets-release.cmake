#----------------------------------------------------------------
# Generated CMake target import file for configuration "Release".
#----------------------------------------------------------------

# Commands may need to know the format version.
set(CMAKE_IMPORT_FILE_VERSION 1)

# Import target "shmkit::shmkit" for configuration "Release"
set_property(TARGET shmkit::shmkit APPEND PROPERTY IMPORTED_CONFIGURATIONS RELEASE)
set_target_properties(shmkit::shmkit PROPERTIES
  IMPORTED_LOCATION_RELEASE "${_IMPORT_PREFIX}/lib/libshmkit.so.0.1.0"
  IMPORTED_SONAME_RELEASE "libshmkit.so.0"
  )

list(APPEND _cmake_import_check_targets shmkit::shmkit )
list(APPEND _cmake_import_check_files_for_shmkit::shmkit "${_IMPORT_PREFIX}/lib/libshmkit.so.0.1.0" )

# Import target "shmkit::shmkit_static" for configuration "Release"
set_property(TARGET shmkit::shmkit_static APPEND PROPERTY IMPORTED_CONFIGURATIONS RELEASE)
set_target_properties(shmkit::shmkit_static PROPERTIES
  IMPORTED_LINK_INTERFACE_LANGUAGES_RELEASE "C"
  IMPORTED_LOCATION_RELEASE "${_IMPORT_PREFIX}/lib/libshmkit.a"
  )

list(APPEND _cmake_import_check_targets shmkit::shmkit_static )
list(APPEND _cmake_import_check_files_for_shmkit::shmkit_static "${_IMPORT_PREFIX}/lib/libshmkit.a" )

# Commands beyond this point should not need to know the version.
set(CMAKE_IMPORT_FILE_VERSION)
