# SPDX-License-Identifier: MIT
# CTest script: install a build of the library into a staging prefix, then build examples/cpp
# against it as a C++ tool author would, with find_package(mp1boot) and with pkg-config (mp1boot.pc),
# and run both programs on the simulated board.
#   BIN     the build tree to install (ignored with SHARED)
#   SRC     the source tree
#   STAGE   a scratch folder (emptied)
#   SHARED  ON: first configure SRC as a C++ user would (plain CMake, no pybind11, no tests) with
#           BUILD_SHARED_LIBS=ON, build it, and check the SONAME of the installed libraries
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

if(SHARED)
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SRC} -B ${STAGE}/lib -G Ninja -DCMAKE_BUILD_TYPE=Release
                          -DBUILD_SHARED_LIBS=ON -DMP1BOOT_BUILD_TESTS=OFF -DCMAKE_DISABLE_FIND_PACKAGE_pybind11=ON
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  message("${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "plain CMake configure failed (${rc})")
  endif()
  if(NOT out MATCHES "mp1boot: pybind11 not found: the Python module is not built")
    message(FATAL_ERROR "no notice that the Python module is left out")
  endif()
  run(${CMAKE_COMMAND} --build ${STAGE}/lib)
  set(BIN ${STAGE}/lib)
endif()

run(${CMAKE_COMMAND} --install ${BIN} --prefix ${STAGE}/prefix)
file(GLOB_RECURSE pc_files ${STAGE}/prefix/*/mp1boot.pc)
if(NOT pc_files)
  message(FATAL_ERROR "mp1boot.pc was not installed")
endif()
list(GET pc_files 0 pc_file)
get_filename_component(pc_dir ${pc_file} DIRECTORY)
get_filename_component(lib_dir ${pc_dir} DIRECTORY)

if(SHARED)
  foreach(component core serial usb connect)
    set(lib ${lib_dir}/libmp1boot_${component}.so.0.1)
    if(NOT EXISTS ${lib})
      message(FATAL_ERROR "missing ${lib}")
    endif()
    execute_process(COMMAND readelf -d ${lib} OUTPUT_VARIABLE dyn)
    if(NOT dyn MATCHES "Library soname: \\[libmp1boot_${component}\\.so\\.0\\.1\\]")
      message(FATAL_ERROR "${lib}: no SONAME libmp1boot_${component}.so.0.1:\n${dyn}")
    endif()
  endforeach()
endif()

# find_package(mp1boot) with the exported targets.
# The consumer is built with the flags of the tree it links (sanitizer builds need them).
run(${CMAKE_COMMAND} -S ${SRC}/examples/cpp -B ${STAGE}/build -G Ninja -DCMAKE_PREFIX_PATH=${STAGE}/prefix
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINK_FLAGS}")
run(${CMAKE_COMMAND} --build ${STAGE}/build)
run(${STAGE}/build/mp1boot_example)
run(${STAGE}/build/mp1boot_flash_parallel)

# pkg-config, the way a Makefile would use it.
execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pc_dir} pkg-config --cflags --libs mp1boot
                RESULT_VARIABLE rc OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs mp1boot failed (${rc})")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
separate_arguments(tree_flags UNIX_COMMAND "${CXX_FLAGS} ${LINK_FLAGS}")  # sanitizer builds
run(c++ -std=c++20 ${tree_flags} -o ${STAGE}/example_pc ${SRC}/examples/cpp/main.cpp ${flags} -Wl,-rpath,${lib_dir})
run(${STAGE}/example_pc)
