// The module is the pkcs11 implementation library linked whole (see CMakeLists.txt).
