#!/usr/bin/python3
# An RTSP camera for tests: GStreamer's RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) serving a
# live 25 fps H.264 test pattern (SMPTE bars with a moving ball) at rtsp://127.0.0.1:PORT/cam.
# Usage: rtsp_camera.py PORT [USER:PASSWORD]   (with credentials, it demands Basic authentication)
# Prints "listening" once the port is bound.
import sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer, GLib

Gst.init(None)
server = GstRtspServer.RTSPServer(address="127.0.0.1", service=sys.argv[1])
factory = GstRtspServer.RTSPMediaFactory(shared=True)
factory.set_launch("( videotestsrc is-live=true pattern=smpte horizontal-speed=4 ! "
                   "video/x-raw,width=320,height=240,framerate=25/1 ! "
                   "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! rtph264pay name=pay0 pt=96 )")
if len(sys.argv) > 2:
    user, password = sys.argv[2].split(":", 1)
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "user")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_role("user")
    permissions.add_permission_for_role("user", "media.factory.access", True)
    permissions.add_permission_for_role("user", "media.factory.construct", True)
    factory.set_permissions(permissions)
server.get_mount_points().add_factory("/cam", factory)
if server.attach(None) == 0:
    sys.exit("cannot listen on 127.0.0.1:" + sys.argv[1])
print("listening", flush=True)
GLib.MainLoop().run()
