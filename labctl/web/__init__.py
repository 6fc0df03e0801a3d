"""The web app (``labctl serve``): the trainee's portal and the instructor's dashboard.

A thin layer over :mod:`labctl.sessions`, like the CLI; aiohttp for HTTP and the
websocket-to-VNC proxy, Jinja2 templates, plain JavaScript, noVNC from Debian's
``novnc`` package. Imported only by ``labctl serve``: the rest of labctl works
without aiohttp.
"""
