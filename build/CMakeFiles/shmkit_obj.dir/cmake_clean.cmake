file(REMOVE_RECURSE
  "CMakeFiles/shmkit_obj.dir/src/backend/anon.c.o"
  "CMakeFiles/shmkit_obj.dir/src/backend/anon.c.o.d"
  "CMakeFiles/shmkit_obj.dir/src/backend/file.c.o"
  "CMakeFiles/shmkit_obj.dir/src/backend/file.c.o.d"
  "CMakeFiles/shmkit_obj.dir/src/backend/memfd.c.o"
  "CMakeFiles/shmkit_obj.dir/src/backend/memfd.c.o.d"
  "CMakeFiles/shmkit_obj.dir/src/backend/posix.c.o"
  "CMakeFiles/shmkit_obj.dir/src/backend/posix.c.o.d"
  "CMakeFiles/shmkit_obj.dir/src/backend/sysv.c.o"
  "CMakeFiles/shmkit_obj.dir/src/backend/sysv.c.o.d"
  "CMakeFiles/shmkit_obj.dir/src/fdmap.c.o"
  "CMakeFiles/shmkit_obj.dir/src/fdmap.c.o.d"
  "CMakeFiles/shmkit_obj.dir/src/fdpass.c.o"
  "CMakeFiles/shmkit_obj.dir/src/fdpass.c.o.d"
  "CMakeFiles/shmkit_obj.dir/src/list.c.o"
  "CMakeFiles/shmkit_obj.dir/src/list.c.o.d"
  "CMakeFiles/shmkit_obj.dir/src/seg.c.o"
  "CMakeFiles/shmkit_obj.dir/src/seg.c.o.d"
  "CMakeFiles/shmkit_obj.dir/src/spec.c.o"
  "CMakeFiles/shmkit_obj.dir/src/spec.c.o.d"
  "CMakeFiles/shmkit_obj.dir/src/util.c.o"
  "CMakeFiles/shmkit_obj.dir/src/util.c.o.d"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/shmkit_obj.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
