file(REMOVE_RECURSE
  "CMakeFiles/shmkit_testlib.dir/test.c.o"
  "CMakeFiles/shmkit_testlib.dir/test.c.o.d"
  "libshmkit_testlib.a"
  "libshmkit_testlib.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/shmkit_testlib.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
