# cmake -DSRC=<jsmpeg-player.umd.min.js> -DDST=<web>/vendor/jsmpeg.min.js -P copy_jsmpeg.cmake
# Copies the JSMpeg bundle from web/node_modules, or stops the build with the fix to apply.
if(NOT EXISTS "${SRC}")
  get_filename_component(web_dir "${CMAKE_CURRENT_LIST_DIR}" ABSOLUTE)
  message(FATAL_ERROR
    "JSMpeg is missing: ${SRC} does not exist.\n"
    "run npm ci in web/ (cd ${web_dir} && npm ci), or scripts/install-deps.sh, then build again.")
endif()
file(READ "${SRC}" head LIMIT 4096)
if(NOT head MATCHES "JSMpeg")
  message(FATAL_ERROR "${SRC} does not look like the JSMpeg UMD bundle (no global JSMpeg): run npm ci in web/")
endif()
get_filename_component(dst_dir "${DST}" DIRECTORY)
file(MAKE_DIRECTORY "${dst_dir}")
file(COPY_FILE "${SRC}" "${DST}")
