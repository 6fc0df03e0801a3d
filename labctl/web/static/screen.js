// The seat's screen: noVNC (Debian's novnc package, served by labctl) over labctl's own websocket proxy.
import RFB from "/novnc/core/rfb.js";

const target = document.getElementById("screen");
const status = document.getElementById("vnc-status");
const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const rfb = new RFB(target, scheme + location.host + target.dataset.url,
                    { credentials: { password: target.dataset.password } });
rfb.scaleViewport = true;
rfb.resizeSession = false;
rfb.addEventListener("connect", () => { status.textContent = "connected"; document.body.dataset.vnc = "connected"; });
rfb.addEventListener("disconnect", (e) => {
  status.textContent = e.detail.clean ? "disconnected" : "connection lost";
  document.body.dataset.vnc = "disconnected";
});
rfb.addEventListener("securityfailure", (e) => { status.textContent = "VNC refused: " + (e.detail.reason || e.detail.status); });
document.getElementById("ctrl-alt-del").addEventListener("click", () => rfb.sendCtrlAltDel());
window.labctlRfb = rfb;
