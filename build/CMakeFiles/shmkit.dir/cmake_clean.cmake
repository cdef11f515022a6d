file(REMOVE_RECURSE
  "libshmkit.pdb"
  "libshmkit.so"
  "libshmkit.so.0"
  "libshmkit.so.0.1.0"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/shmkit.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
