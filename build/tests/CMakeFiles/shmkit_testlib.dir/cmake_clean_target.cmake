file(REMOVE_RECURSE
  "libshmkit_testlib.a"
)
