# cmake -DSRC=<file in web/node_modules> -DDST=<web>/vendor/<name> -DMATCH=<text the file must hold> -P copy_vendor.cmake
# Copies one third-party file (JSMpeg, uPlot …) from web/node_modules, or stops the build with the fix to apply.
get_filename_component(web_dir "${CMAKE_CURRENT_LIST_DIR}" ABSOLUTE)
if(NOT EXISTS "${SRC}")
  message(FATAL_ERROR
    "${SRC} does not exist.\n"
    "run npm ci in web/ (cd ${web_dir} && npm ci), or scripts/install-deps.sh, then build again.")
endif()
file(READ "${SRC}" head LIMIT 4096)
if(MATCH AND NOT head MATCHES "${MATCH}")
  message(FATAL_ERROR "${SRC} does not look like what web/CMakeLists.txt expects (no \"${MATCH}\" near its start): run npm ci in web/")
endif()
get_filename_component(dst_dir "${DST}" DIRECTORY)
file(MAKE_DIRECTORY "${dst_dir}")
file(COPY_FILE "${SRC}" "${DST}")
