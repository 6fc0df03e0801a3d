#!/bin/sh
# Runs on the host after the workstation's hook, with the image's root folder as $1.
set -eu
root="$1"
in_root() { chroot "$root" "$@"; }

# Graphical boot: lightdm logs alex in to XFCE on the machine's screen (vt7).
in_root systemctl set-default graphical.target
in_root systemctl enable lightdm.service
echo /usr/sbin/lightdm > "$root/etc/X11/default-display-manager"
# Autologin needs the user in the autologin group (Debian's lightdm PAM stack).
in_root groupadd -f -r autologin
in_root gpasswd -a alex autologin >/dev/null
chmod 755 "$root/usr/local/sbin/labctl-display-setup"

# XFCE for every X session (lightdm's and xrdp's).
in_root update-alternatives --set x-session-manager /usr/bin/xfce4-session
in_root update-alternatives --set x-www-browser /usr/bin/firefox-esr 2>/dev/null || true

# RDP: xrdp reads its TLS key through the ssl-cert group; listen on 3389 (forwarded per seat).
in_root adduser --quiet xrdp ssl-cert || true
in_root systemctl enable xrdp.service xrdp-sesman.service

# alex's desktop: the usual folders with launchers, and Documents on the desktop.
install -d "$root/home/alex/Desktop"
for app in thunar org.xfce.mousepad firefox-esr atril; do
    [ -f "$root/usr/share/applications/$app.desktop" ] || continue
    install -m 755 "$root/usr/share/applications/$app.desktop" "$root/home/alex/Desktop/$app.desktop"
done
ln -sfn /home/alex/Documents "$root/home/alex/Desktop/Documents"
in_root chown -R alex:alex /home/alex

# The panel as Debian ships it, without the first-login "default or empty panel?" question.
if [ -f "$root/etc/xdg/xfce4/panel/default.xml" ]; then
    install -D -m 644 "$root/etc/xdg/xfce4/panel/default.xml" \
        "$root/etc/xdg/xfce4/xfconf/xfce-perchannel-xml/xfce4-panel.xml"
fi

# No compositing: after a seat is restored from saved memory (warm start, reset) the
# compositor waits for a frame timing that never comes and the screen stays black
# until it is turned off. It also costs CPU under software emulation.
sed -i 's/^use_compositing=.*/use_compositing=false/' "$root/usr/share/xfwm4/defaults"
grep -qx 'use_compositing=false' "$root/usr/share/xfwm4/defaults"

# No screen lock or blanking in a lab seat; no first-run panel question.
rm -f "$root/etc/xdg/autostart/light-locker.desktop" "$root/etc/xdg/autostart/xscreensaver.desktop"

rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/*
