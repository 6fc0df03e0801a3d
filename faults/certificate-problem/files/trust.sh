#!/bin/sh
# trust.sh inject|fix VARIANT OLD_BUNDLE - break the variant's part of the trust, or the
# reference repair.
set -eu
ca=/usr/local/share/ca-certificates/corp-lab-ca.crt
vpn_ca=/etc/openvpn/client/corp-ca.crt
bundle=/etc/ssl/certs/ca-certificates.crt

# swap_in_bundle OLD NEW: the store as update-ca-certificates would leave it after OLD's
# certificate became NEW (either may be empty: added, removed). update-ca-certificates puts
# the local CAs after the distribution's, so an added one goes at the end. Under emulation
# update-ca-certificates runs a few processes per CA and takes one to two minutes; one pass
# over the bundle gives the same bytes. Anything unexpected: the real thing.
swap_in_bundle() {
    python3 - "$1" "$2" "$bundle" <<'PY' || update-ca-certificates --fresh >/dev/null 2>&1
import os, sys
old, new, bundle = sys.argv[1:4]
def pem(path):
    if not path:
        return ""
    text = open(path).read()
    return text if text.endswith("\n") else text + "\n"
data, was, now = open(bundle).read(), pem(old), pem(new)
if was:
    if was not in data:
        sys.exit(1)
    data = data.replace(was, now)
elif now in data:
    sys.exit(0)
else:
    data = data + now
with open(bundle + ".new", "w") as f:
    f.write(data)
os.chmod(bundle + ".new", 0o644)
os.replace(bundle + ".new", bundle)
PY
}

case "$1:$2" in
inject:ca-removed)
    if [ -f "$ca" ]; then
        swap_in_bundle "$ca" ""
        rm -f "$ca"
    fi
    # The store's links to it (corp-lab-ca.pem and its hash link), now dangling.
    find -L /etc/ssl/certs -maxdepth 1 -type l -delete
    ;;
inject:ca-replaced)
    tmp=$(mktemp -d)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/k" -out "$tmp/c" \
        -subj "/O=corp.lab/CN=corp.lab lab CA" -days 3650 2>/dev/null
    # Same subject, so the hash link keeps its name; only the certificate changes.
    swap_in_bundle "$ca" "$tmp/c"
    install -m 644 "$tmp/c" "$ca"
    rm -rf "$tmp"
    ;;
inject:old-bundle)
    # An old bundle: the public CAs only, as it was before the company CA was added.
    install -d "$(dirname "$3")"
    cat /usr/share/ca-certificates/mozilla/*.crt > "$3"
    # curl ignores CURL_CA_BUNDLE for its CA folder (/etc/ssl/certs, where the company CA
    # still is); the legacy application's curl settings (CURL_HOME) name both the bundle and
    # a folder without the company CA, so the user's curl really stops trusting the intranet.
    printf 'cacert = "%s"\ncapath = "%s"\n' "$3" "$(dirname "$3")" > "$(dirname "$3")/.curlrc"
    printf '# Legacy application certificates\nexport SSL_CERT_FILE=%s\nexport CURL_CA_BUNDLE=%s\nexport CURL_HOME=%s\n' \
        "$3" "$3" "$(dirname "$3")" > /etc/profile.d/legacy-certs.sh
    ;;
fix:ca-removed|fix:ca-replaced)
    # What copying the CA back and update-ca-certificates do (the notes' fix; the repair
    # ca-back-from-profile runs the real command): the CA file, its block in the bundle,
    # its link and hash link in /etc/ssl/certs.
    old=
    if [ -f "$ca" ] && ! cmp -s "$ca" "$vpn_ca"; then
        tmp=$(mktemp -d)
        cp "$ca" "$tmp/old"
        old=$tmp/old
    fi
    install -m 644 "$vpn_ca" "$ca"
    swap_in_bundle "$old" "$ca"
    [ -z "$old" ] || rm -rf "$(dirname "$old")"
    ln -sfn "$ca" /etc/ssl/certs/corp-lab-ca.pem
    ln -sfn corp-lab-ca.pem "/etc/ssl/certs/$(openssl x509 -hash -noout -in "$ca").0"
    ;;
fix:old-bundle)
    rm -f /etc/profile.d/legacy-certs.sh "$3" "$(dirname "$3")/.curlrc"
    ;;
*) echo "unknown step or variant: $1 $2" >&2; exit 2 ;;
esac
