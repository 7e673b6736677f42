# nghttp2, the HTTP/2 library (Debian's libnghttp2-dev), as the imported target glue_nghttp2,
# found without pkg-config. The top-level CMakeLists.txt includes this file, and so does the
# installed glueConfig.cmake for a static glue, whose users link nghttp2 themselves.
if(NOT TARGET glue_nghttp2)
    find_path(GLUE_NGHTTP2_INCLUDE_DIR nghttp2/nghttp2.h)
    find_library(GLUE_NGHTTP2_LIBRARY nghttp2)
    if(NOT GLUE_NGHTTP2_INCLUDE_DIR OR NOT GLUE_NGHTTP2_LIBRARY)
        message(FATAL_ERROR "glue: nghttp2 (HTTP/2) not found: install libnghttp2-dev")
    endif()
    # GLOBAL: a static glue names it in its link interface, which any directory may link.
    add_library(glue_nghttp2 UNKNOWN IMPORTED GLOBAL)
    set_target_properties(glue_nghttp2 PROPERTIES
        IMPORTED_LOCATION ${GLUE_NGHTTP2_LIBRARY}
        INTERFACE_INCLUDE_DIRECTORIES ${GLUE_NGHTTP2_INCLUDE_DIR})
endif()
