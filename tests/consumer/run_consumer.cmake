# SPDX-License-Identifier: MIT
# CTest script: install the build tree into a staging prefix, then configure, build and run
# examples/cpp against it with find_package(mp1boot), as a C++ tool author would.
foreach(var BIN SRC STAGE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "${var} not set")
  endif()
endforeach()
file(REMOVE_RECURSE ${STAGE})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()
run(${CMAKE_COMMAND} --install ${BIN} --prefix ${STAGE}/prefix)
# The consumer is built with the flags of the tree it links (sanitizer builds need them).
run(${CMAKE_COMMAND} -S ${SRC}/examples/cpp -B ${STAGE}/build -G Ninja -DCMAKE_PREFIX_PATH=${STAGE}/prefix
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINK_FLAGS}")
run(${CMAKE_COMMAND} --build ${STAGE}/build)
run(${STAGE}/build/mp1boot_example)
