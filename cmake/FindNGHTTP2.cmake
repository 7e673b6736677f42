# Finds nghttp2, the HTTP/2 library (Debian's libnghttp2-dev), by its header and library alone,
# so that neither the build nor an installed glue-cpp needs more than those two files.
# Defines NGHTTP2_FOUND, NGHTTP2_VERSION and the imported target NGHTTP2::NGHTTP2.
find_path(NGHTTP2_INCLUDE_DIR nghttp2/nghttp2.h)
find_library(NGHTTP2_LIBRARY NAMES nghttp2)
if(NGHTTP2_INCLUDE_DIR AND EXISTS ${NGHTTP2_INCLUDE_DIR}/nghttp2/nghttp2ver.h)
    file(STRINGS ${NGHTTP2_INCLUDE_DIR}/nghttp2/nghttp2ver.h _nghttp2_version_line
        REGEX "#define NGHTTP2_VERSION \"")
    string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" NGHTTP2_VERSION "${_nghttp2_version_line}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(NGHTTP2
    REQUIRED_VARS NGHTTP2_LIBRARY NGHTTP2_INCLUDE_DIR VERSION_VAR NGHTTP2_VERSION)
if(NGHTTP2_FOUND AND NOT TARGET NGHTTP2::NGHTTP2)
    add_library(NGHTTP2::NGHTTP2 UNKNOWN IMPORTED)
    set_target_properties(NGHTTP2::NGHTTP2 PROPERTIES IMPORTED_LOCATION ${NGHTTP2_LIBRARY}
        INTERFACE_INCLUDE_DIRECTORIES ${NGHTTP2_INCLUDE_DIR})
endif()
mark_as_advanced(NGHTTP2_INCLUDE_DIR NGHTTP2_LIBRARY)
