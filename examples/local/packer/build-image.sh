#!/bin/sh
# build-image.sh: bake the lab's golden image into $REGISTRY/$TEMPLATE_ID.
# Run by lab.pkr.hcl's shell-local provisioner with REGISTRY, TEMPLATE_ID
# and IMAGE_VERSION in the environment. The image is a rootfs-like tree
# (image/etc, image/opt, …) that Terraform copies into every host cloned
# from it. The id file is written last (to a temporary name, then renamed),
# so a half-built image never counts as a template; earlier templates stay.
set -eu
: "${REGISTRY:?REGISTRY is not set}" "${TEMPLATE_ID:?TEMPLATE_ID is not set}"
version=${IMAGE_VERSION:-1.0.0}
id=$TEMPLATE_ID
case $id in
'' | *[!0-9]*)
	echo "build-image.sh: template ID '$id' is not a number" >&2
	exit 1
	;;
esac
mkdir -p "$REGISTRY"
# The manifest post-processor does not make its directory, which is not the
# registry's when environments share one.
[ -z "${MANIFEST:-}" ] || mkdir -p "$(dirname "$MANIFEST")"
dir="$REGISTRY/$id"

# One build at a time per registry. Packer picked the ID when it parsed the
# template, so a build that ran meanwhile may have taken it: fail, and the
# next run counts again.
exec 9>"$REGISTRY/.lock"
flock 9
if [ -e "$dir/id" ]; then
	echo "build-image.sh: template $id is already registered in $REGISTRY (another build took it); build again for the next ID" >&2
	exit 1
fi
rm -rf "$dir" "$REGISTRY/.build-$id" # what a build that did not finish left
tmp="$REGISTRY/.build-$id"
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)

root="$tmp/image"
mkdir -p "$root/etc/baton" "$root/opt/app" "$root/srv/www" "$root/run" "$root/var/log"
cat >"$root/etc/baton-image" <<EOF
template_id=$id
version=$version
built=$built
EOF
printf 'Welcome to a baton lab host, cloned from template %s (image %s, built %s).\n' \
	"$id" "$version" "$built" >"$root/etc/motd"
printf 'baton-lab-%s\n' "$id" >"$root/etc/hostname"
cat >"$root/opt/app/README" <<EOF
The application directory of the golden image, template $id (image $version).
Ansible configures the application in etc/app/ when it configures the host.
EOF
printf '%s\n' "$version" >"$root/opt/app/VERSION"

mv "$tmp" "$dir"
printf '%s\n' "$id" >"$dir/id.tmp"
mv "$dir/id.tmp" "$dir/id"
echo "registered template $id (image $version, built $built) in $REGISTRY"
