#!/usr/bin/env bash
# Installs the real servers the tests start on loopback (Debian packages):
# MariaDB (server + mysqldump), OpenSSH (sshd + ssh-keygen) and etcd (for the
# lab's kube-apiserver), Docker Engine and docker-compose v1 (the WeCube lab
# starts its own dockerd), Chromium (the Web UI test drives it headless
# through the codec server; the run report's browser test opens a report), and
# PostgreSQL (make chaos's production-shaped Temporal cluster; the lab runs its
# own postgres, internal/lab/temporal_postgres.go). Skips apt
# entirely when everything is already there.
set -euo pipefail
pkgs=(mariadb-server mariadb-client openssh-server openssh-client etcd-server iproute2 docker.io docker-compose chromium postgresql)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "test servers already installed: ${pkgs[*]}"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing ${missing[*]}"
$SUDO apt-get update -qq
# The packages' postinst scripts try to start services; there is no init
# system here and the tests start their own servers, so tell them not to.
printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
$SUDO chmod +x /usr/sbin/policy-rc.d
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
$SUDO rm -f /usr/sbin/policy-rc.d
