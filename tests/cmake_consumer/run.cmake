# Installs glue-cpp into a scratch prefix, then configures, builds and runs a small project that
# finds it with find_package(glue CONFIG), as a user's project would.
#   cmake -DGLUE_BUILD_DIR=... -DGLUE_SOURCE_DIR=... -DWORK_DIR=... [-DCXX_FLAGS=...]
#         [-DLINKER_FLAGS=...] [-DLAUNCHER=...] -P run.cmake

function(run_step what)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "cmake consumer test: ${what} failed (${rc})")
    endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
run_step("install" ${CMAKE_COMMAND} --install ${GLUE_BUILD_DIR} --prefix ${WORK_DIR}/prefix)
run_step("configure"
    ${CMAKE_COMMAND} -S ${GLUE_SOURCE_DIR}/tests/cmake_consumer -B ${WORK_DIR}/build -G Ninja
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}"
    "-DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER}")
run_step("build" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run_step("run" ${WORK_DIR}/build/consumer)
