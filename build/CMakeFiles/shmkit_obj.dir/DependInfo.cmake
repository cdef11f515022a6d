
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/src/backend/anon.c" "CMakeFiles/shmkit_obj.dir/src/backend/anon.c.o" "gcc" "CMakeFiles/shmkit_obj.dir/src/backend/anon.c.o.d"
  "/work/main/src/backend/file.c" "CMakeFiles/shmkit_obj.dir/src/backend/file.c.o" "gcc" "CMakeFiles/shmkit_obj.dir/src/backend/file.c.o.d"
  "/work/main/src/backend/memfd.c" "CMakeFiles/shmkit_obj.dir/src/backend/memfd.c.o" "gcc" "CMakeFiles/shmkit_obj.dir/src/backend/memfd.c.o.d"
  "/work/main/src/backend/posix.c" "CMakeFiles/shmkit_obj.dir/src/backend/posix.c.o" "gcc" "CMakeFiles/shmkit_obj.dir/src/backend/posix.c.o.d"
  "/work/main/src/backend/sysv.c" "CMakeFiles/shmkit_obj.dir/src/backend/sysv.c.o" "gcc" "CMakeFiles/shmkit_obj.dir/src/backend/sysv.c.o.d"
  "/work/main/src/fdmap.c" "CMakeFiles/shmkit_obj.dir/src/fdmap.c.o" "gcc" "CMakeFiles/shmkit_obj.dir/src/fdmap.c.o.d"
  "/work/main/src/fdpass.c" "CMakeFiles/shmkit_obj.dir/src/fdpass.c.o" "gcc" "CMakeFiles/shmkit_obj.dir/src/fdpass.c.o.d"
  "/work/main/src/list.c" "CMakeFiles/shmkit_obj.dir/src/list.c.o" "gcc" "CMakeFiles/shmkit_obj.dir/src/list.c.o.d"
  "/work/main/src/seg.c" "CMakeFiles/shmkit_obj.dir/src/seg.c.o" "gcc" "CMakeFiles/shmkit_obj.dir/src/seg.c.o.d"
  "/work/main/src/spec.c" "CMakeFiles/shmkit_obj.dir/src/spec.c.o" "gcc" "CMakeFiles/shmkit_obj.dir/src/spec.c.o.d"
  "/work/main/src/util.c" "CMakeFiles/shmkit_obj.dir/src/util.c.o" "gcc" "CMakeFiles/shmkit_obj.dir/src/util.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
