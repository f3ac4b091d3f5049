# Compiles BPF C sources with clang, links the objects into one with
# `bpftool gen object`, and generates a libbpf skeleton header from it.
#
#   sockscope_bpf_skeleton(<name>
#     SOURCES <a.bpf.c> ...        # each compiled separately
#     HEADERS <x.h> ...            # every header the sources include (rebuild on change)
#     VMLINUX <path/to/vmlinux.h>
#     [WERROR <bool>])             # -Werror on the BPF sources
#
# Defines the INTERFACE target <name>_skel whose include directory holds
# <name>.skel.h; it carries libbpf (PkgConfig::LIBBPF), which the generated
# header calls. Unlike libbpf-bootstrap's rules, every listed header (and the
# generated vmlinux.h) is a dependency of every object.
find_program(CLANG_BPF NAMES clang clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|amd64")
  set(BPF_TARGET_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(BPF_TARGET_ARCH arm64)
else()
  set(BPF_TARGET_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

function(sockscope_bpf_skeleton name)
  cmake_parse_arguments(ARG "" "VMLINUX;WERROR" "SOURCES;HEADERS" ${ARGN})
  set(werror)
  if(ARG_WERROR)
    set(werror -Werror)
  endif()
  set(outdir ${CMAKE_CURRENT_BINARY_DIR}/bpf)
  file(MAKE_DIRECTORY ${outdir})
  get_filename_component(vmlinux_dir ${ARG_VMLINUX} DIRECTORY)

  set(objects)
  foreach(src ${ARG_SOURCES})
    get_filename_component(base ${src} NAME_WE)
    get_filename_component(src_abs ${src} ABSOLUTE)
    get_filename_component(src_dir ${src_abs} DIRECTORY)
    set(obj ${outdir}/${base}.bpf.o)
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${CLANG_BPF} -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_${BPF_TARGET_ARCH}
              -Wall ${werror} -Wno-unused-function
              -I${vmlinux_dir} -I${src_dir} -c ${src_abs} -o ${obj}
      DEPENDS ${src_abs} ${ARG_HEADERS} ${ARG_VMLINUX}
      COMMENT "BPF ${base}.bpf.c"
      VERBATIM)
    list(APPEND objects ${obj})
  endforeach()

  set(linked ${outdir}/${name}.bpf.o)
  add_custom_command(
    OUTPUT ${linked}
    COMMAND ${BPFTOOL} gen object ${linked} ${objects}
    DEPENDS ${objects}
    COMMENT "BPF link ${name}.bpf.o"
    VERBATIM)

  set(skel ${outdir}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${linked} name ${name} > ${skel}
    DEPENDS ${linked}
    COMMENT "BPF skeleton ${name}.skel.h"
    VERBATIM)

  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${outdir})
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()

# vmlinux.h from the BTF of the kernel we build on; CO-RE relocates it on others.
function(sockscope_vmlinux_h out)
  set(btf /sys/kernel/btf/vmlinux)
  if(NOT EXISTS ${btf})
    message(FATAL_ERROR "sockscope needs kernel BTF to build: ${btf} is missing (CONFIG_DEBUG_INFO_BTF)")
  endif()
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${BPFTOOL} btf dump file ${btf} format c > ${out}
    COMMENT "vmlinux.h from ${btf}"
    VERBATIM)
endfunction()
