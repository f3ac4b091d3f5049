# The Debian package: `cpack` in a build directory writes
# sockscope_<version>_<arch>.deb there, holding what `cmake --install`
# installs (bin/sockscope, bin/sockscope-receiver, bin/sockscope-sender, the
# man page, the bash completion) under /usr. tests/package/test.sh installs
# it, runs it and removes it, without changing the host.
#
# Its Depends are found by dpkg-shlibdeps (dpkg-dev) from the shared
# libraries the binaries link: Debian's runtime packages (libbpf1, libelf1,
# libfmt9, ...), never the -dev packages the build used. The BPF object is
# embedded in the binary, so nothing else is needed at run time but a kernel
# with BTF.
#
# cpack (and `make install`) would first build every target, the tests
# included (minutes); they package what is built instead: build sockscope,
# receiver and sender (or everything) first, as tests/run.sh does.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sockscope)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "sockscope maintainers <maintainers@users.noreply.r-seed-08b6529b.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "eBPF tracer showing who does the TCP handshake")
set(CPACK_PACKAGE_DESCRIPTION [=[
sockscope traces what the Linux kernel does when a program uses TCP sockets:
the program's socket calls, the kernel's TCP work (the port bound, the SYN
received, the child socket queued for accept(), every state change) and the
handshake's packets, each with the CPU, the execution context and the task
whose context softirq borrowed.
.
sockscope explain tells one story per connection and says who completed the
handshake (the kernel, in softirq) and what the listening process was doing
meanwhile: stopped, blocked in accept(), waiting in epoll_wait().
.
The package also installs the tutorial's demo programs as sockscope-receiver
and sockscope-sender. Tracing needs root (or CAP_BPF, CAP_PERFMON,
CAP_NET_ADMIN and CAP_DAC_READ_SEARCH) and a kernel with BTF.]=])
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # sockscope_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS bash-completion)
# Strips what install(TARGETS) installs (sockscope); the demos, installed
# under their new names with install(PROGRAMS), are copied as built.
set(CPACK_STRIP_FILES ON)
include(CPack)
