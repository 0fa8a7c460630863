# SPDX-License-Identifier: MIT
# What to do when a build dependency is missing: the message names the Debian/Ubuntu package and
# the option that builds without the part needing it (CMake -D..., or pip's -Ccmake.define....).
function(mp1boot_missing what package option)
  set(way_out "")
  if(option)
    set(way_out " Or build without it: cmake -D${option}=OFF, or pip install . -Ccmake.define.${option}=OFF.")
  endif()
  message(FATAL_ERROR "mp1boot: ${what} not found. Debian/Ubuntu: sudo apt install ${package}.${way_out}\n"
                      "Everything at once: sudo apt install g++ cmake ninja-build pkg-config libboost-dev "
                      "libusb-1.0-0-dev (scripts/bootstrap.sh does this).")
endfunction()
