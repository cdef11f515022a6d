"""install_dir.py: print where, relative to an install prefix, this
interpreter looks for platform packages (for python/CMakeLists.txt).

Debian's python3 looks in PREFIX/lib/python3.X/dist-packages for the prefix
/usr/local (its scheme "posix_local" spells that local/lib/... under /usr):
the leading local/ is dropped so that the default CMAKE_INSTALL_PREFIX,
/usr/local, lands there.
"""
import sys
import sysconfig

p = sysconfig.get_path("platlib", vars={"base": "/@", "platbase": "/@"})
if p.startswith("/@/"):
    rel = p[3:]
    scheme = getattr(sysconfig, "get_default_scheme", lambda: "")()
    if scheme == "posix_local" and rel.startswith("local/"):
        rel = rel[len("local/"):]
else:
    rel = "lib/python%d.%d/site-packages" % sys.version_info[:2]
print(rel)
