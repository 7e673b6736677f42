# The consumer tests (tests/CMakeLists.txt): each way a user's project takes glue-cpp, done in a
# scratch directory as a user would, then the program run.
#   cmake -DMODE=<mode> [-DKIND=static|shared] [-DPREFIX=...] -DGLUE_SOURCE_DIR=...
#         -DGLUE_BUILD_DIR=... -DWORK_DIR=... -DMOCK_SERVER=... -DCXX_COMPILER=...
#         [-DCXX_FLAGS=...] [-DLINKER_FLAGS=...] [-DLAUNCHER=...] -P run.cmake
# MODE:
#   install         install GLUE_BUILD_DIR (the static build) into PREFIX
#   install-shared  build glue-cpp with BUILD_SHARED_LIBS and without the shared cache (so without
#                   hiredis and pkg-config), install it into PREFIX, and check what
#                   libglue.so exports and that nothing installed names hiredis or pkg-config
#   find_package    find_package(glue CONFIG) against PREFIX, with glue::testing
#   pkg_config      a plain Makefile with pkg-config's glue.pc from PREFIX
#   add_subdirectory, fetch_content  glue-cpp built inside the project (FetchContent from a
#                   file:// URL of GLUE_SOURCE_DIR's git repository at its HEAD)
# The programs but find_package's run under glue-mock-server; against the shared build they
# also check that the client refuses a shared cache.
# Projects that build glue-cpp build its library only, in batches with precompiled headers (as
# its own build does) and through the same compiler launcher (ccache), to keep the test short.

function(run_step what)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "consumer test ${MODE} ${KIND}: ${what} failed (${rc})")
    endif()
endfunction()

set(cmake_args -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}"
    "-DCMAKE_SHARED_LINKER_FLAGS=${LINKER_FLAGS}" "-DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER}")
set(glue_from_source_args -DGLUE_UNITY_BUILD=ON -DGLUE_PCH=ON)
set(build_args --parallel 2)
set(run_args "")
if(KIND STREQUAL "shared")
    set(run_args --without-shared-cache)
endif()

# build_project(<dir> <args>...): configures, builds and runs tests/consumers/<dir>.
function(build_project dir)
    set(build ${WORK_DIR}/build)
    file(REMOVE_RECURSE ${build})
    run_step("configure" ${CMAKE_COMMAND} -S ${GLUE_SOURCE_DIR}/tests/consumers/${dir} -B ${build}
        ${cmake_args} ${ARGN})
    run_step("build" ${CMAKE_COMMAND} --build ${build} ${build_args})
endfunction()

if(MODE STREQUAL "install")
    file(REMOVE_RECURSE ${PREFIX})
    run_step("install" ${CMAKE_COMMAND} --install ${GLUE_BUILD_DIR} --prefix ${PREFIX})
elseif(MODE STREQUAL "install-shared")
    set(build ${WORK_DIR}/build)
    file(REMOVE_RECURSE ${build} ${PREFIX})
    # As on a machine without pkg-config (CMake's FindOpenSSL uses it when it is there): a build
    # without the shared cache must not need it.
    run_step("configure" ${CMAKE_COMMAND} -S ${GLUE_SOURCE_DIR} -B ${build} ${cmake_args}
        ${glue_from_source_args} -DBUILD_SHARED_LIBS=ON -DGLUE_WITH_SHARED_CACHE=OFF
        -DPKG_CONFIG_EXECUTABLE=${WORK_DIR}/no-pkg-config -DGLUE_BUILD_TESTS=OFF
        -DGLUE_BUILD_EXAMPLES=OFF -DGLUE_BUILD_BENCHMARKS=OFF -DGLUE_BUILD_TOOLS=OFF
        -DGLUE_INSTALL_TESTING=ON)
    run_step("build" ${CMAKE_COMMAND} --build ${build} ${build_args})
    run_step("install" ${CMAKE_COMMAND} --install ${build} --prefix ${PREFIX})
    # The ABI is the public headers: the client is exported, and of glue::detail only the
    # functions that the decoding templates of <glue/detail/decode.hpp> call.
    find_program(NM nm REQUIRED)
    execute_process(COMMAND ${NM} -DC --defined-only ${build}/src/libglue.so
        OUTPUT_VARIABLE symbols COMMAND_ERROR_IS_FATAL ANY)
    string(FIND "${symbols}" " T glue::client::client(" client_exported)
    if(client_exported EQUAL -1)
        message(FATAL_ERROR "libglue.so does not export glue::client's constructor")
    endif()
    string(REGEX MATCHALL
        " [A-Za-z] (typeinfo for |typeinfo name for |vtable for |guard variable for )?glue::detail::[a-z_]+"
        internals "${symbols}")
    foreach(symbol ${internals})
        if(NOT symbol MATCHES
                "^ T glue::detail::(json_pointer|fail_[a-z_]+|throw_decode_error)$")
            message(FATAL_ERROR "libglue.so exports an internal:${symbol}")
        endif()
    endforeach()
    file(GLOB_RECURSE installed LIST_DIRECTORIES false ${PREFIX}/*.cmake
        ${PREFIX}/*.pc)
    foreach(f ${installed})
        file(STRINGS ${f} hits REGEX "hiredis|PkgConfig")
        if(hits)
            message(FATAL_ERROR "${f} names hiredis or pkg-config: ${hits}")
        endif()
    endforeach()
elseif(MODE STREQUAL "find_package")
    set(extra "")
    if(KIND STREQUAL "shared")
        set(extra -DPKG_CONFIG_EXECUTABLE=${WORK_DIR}/no-pkg-config)
    endif()
    build_project(find_package -DCMAKE_PREFIX_PATH=${PREFIX} ${extra})
    run_step("run" ${WORK_DIR}/build/consumer)
elseif(MODE STREQUAL "pkg_config")
    set(build ${WORK_DIR}/build)
    file(REMOVE_RECURSE ${build})
    file(MAKE_DIRECTORY ${build})
    file(GLOB pc_dir LIST_DIRECTORIES true ${PREFIX}/lib*/pkgconfig
        ${PREFIX}/lib*/*/pkgconfig)
    string(STRIP "${LAUNCHER} ${CXX_COMPILER}" cxx)
    run_step("make" ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pc_dir}
        make -C ${build} -f ${GLUE_SOURCE_DIR}/tests/consumers/pkg_config/Makefile
        "CXX=${cxx}" "CXXFLAGS=-O1 ${CXX_FLAGS}" "LDFLAGS=${LINKER_FLAGS}")
    run_step("run" ${MOCK_SERVER} -- ${build}/consumer ${run_args})
elseif(MODE STREQUAL "add_subdirectory")
    build_project(add_subdirectory -DGLUE_SOURCE_DIR=${GLUE_SOURCE_DIR} ${glue_from_source_args})
    run_step("run" ${MOCK_SERVER} -- ${WORK_DIR}/build/consumer)
elseif(MODE STREQUAL "fetch_content")
    find_package(Git REQUIRED)
    execute_process(COMMAND ${GIT_EXECUTABLE} -C ${GLUE_SOURCE_DIR} rev-parse HEAD
        OUTPUT_VARIABLE head OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
    execute_process(COMMAND ${GIT_EXECUTABLE} -C ${GLUE_SOURCE_DIR} status --porcelain
        --untracked-files=no OUTPUT_VARIABLE changes)
    if(changes)
        message(STATUS "fetch_content builds the last commit, ${head}, without the changes since")
    endif()
    build_project(fetch_content "-DGLUE_GIT_URL=file://${GLUE_SOURCE_DIR}" -DGLUE_GIT_TAG=${head}
        ${glue_from_source_args})
    run_step("run" ${MOCK_SERVER} -- ${WORK_DIR}/build/consumer)
else()
    message(FATAL_ERROR "run.cmake: unknown MODE '${MODE}'")
endif()
