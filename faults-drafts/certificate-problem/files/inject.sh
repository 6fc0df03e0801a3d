#!/bin/sh
# inject.sh VARIANT OLD_BUNDLE
set -eu
ca=/usr/local/share/ca-certificates/corp-lab-ca.crt
case "$1" in
ca-removed)
    rm -f "$ca"
    update-ca-certificates --fresh >/dev/null 2>&1
    ;;
ca-replaced)
    tmp=$(mktemp -d)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/k" -out "$tmp/c" \
        -subj "/O=corp.lab/CN=corp.lab lab CA" -days 3650 2>/dev/null
    install -m 644 "$tmp/c" "$ca"
    rm -rf "$tmp"
    update-ca-certificates --fresh >/dev/null 2>&1
    ;;
old-bundle)
    # An old bundle: the public CAs only, as it was before the company CA was added.
    install -d "$(dirname "$2")"
    cat /usr/share/ca-certificates/mozilla/*.crt > "$2"
    printf '# Legacy application certificates\nexport SSL_CERT_FILE=%s\nexport CURL_CA_BUNDLE=%s\n' "$2" "$2" \
        > /etc/profile.d/legacy-certs.sh
    ;;
*) echo "unknown variant $1" >&2; exit 2 ;;
esac
