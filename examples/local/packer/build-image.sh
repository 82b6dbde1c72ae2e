#!/bin/sh
# build-image.sh REGISTRY ID VERSION: bake the golden image into
# REGISTRY/ID. The id file is written last, so a half-built image is never
# counted as a template.
set -eu
registry=$1 id=$2 version=$3
dir="$registry/$id"
if [ -e "$dir/id" ]; then
	echo "template $id is already registered in $registry" >&2
	exit 1
fi
rm -rf "$dir" # an earlier build that did not finish
tmp="$registry/.build-$id"
rm -rf "$tmp"
mkdir -p "$tmp/image/etc/baton" "$tmp/image/opt/app" "$tmp/image/srv/www"
printf 'template_id=%s\nversion=%s\n' "$id" "$version" >"$tmp/image/etc/baton-image"
printf 'Welcome to a baton lab host, cloned from template %s (image %s).\n' "$id" "$version" >"$tmp/image/etc/motd"
cat >"$tmp/image/opt/app/README" <<TXT
The application directory of the golden image, template $id.
TXT
mv "$tmp" "$dir"
printf '%s\n' "$id" >"$dir/id.tmp"
mv "$dir/id.tmp" "$dir/id"
echo "registered template $id (image $version) in $registry"
