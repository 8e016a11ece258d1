#!/usr/bin/env bash
# check-dist.sh — verify the release artifacts that `make dist` wrote.
#
#   deploy/check-dist.sh [DIST_DIR] [VERSION]
#
# For each of lcserver and lcadmin on linux/amd64, linux/arm64 and linux/arm v7 it checks,
# from the Go build info (`go version -m`), that the binary exists, was built from the right
# main package for the right GOOS/GOARCH/GOARM with CGO_ENABLED=0 (a static binary), and that
# the version string is stamped in. The binary for this machine's own platform is also run
# with --version. Exit status 0 when everything holds, 1 with one line per problem otherwise.
set -euo pipefail

dist=${1:-dist}
version=${2:-}
module=github.com/minilivechat/minilivechat
fail=0

problem() { echo "check-dist: $*" >&2; fail=1; }

# setting FILE KEY prints a build setting of FILE ("GOARCH", "CGO_ENABLED", …).
setting() { go version -m "$1" | awk -v k="$2" '$1 == "build" { split($2, kv, "="); if (kv[1] == k) print substr($2, length(k) + 2) }'; }

host_os=$(go env GOHOSTOS)
host_arch=$(go env GOHOSTARCH)

for plat in linux/amd64 linux/arm64 linux/arm/7; do
  IFS=/ read -r os arch arm <<<"$plat"
  suffix=$os-$arch
  [ "$arch" = arm ] && suffix=$suffix-v$arm
  for bin in lcserver lcadmin; do
    f=$dist/$bin-$suffix
    if [ ! -f "$f" ]; then problem "$f: missing"; continue; fi
    if ! go version -m "$f" >/dev/null 2>&1; then problem "$f: no Go build info"; continue; fi
    path=$(go version -m "$f" | awk '$1 == "path" { print $2 }')
    [ "$path" = "$module/cmd/$bin" ] || problem "$f: built from '$path', want $module/cmd/$bin"
    [ "$(setting "$f" GOOS)" = "$os" ] || problem "$f: GOOS=$(setting "$f" GOOS), want $os"
    [ "$(setting "$f" GOARCH)" = "$arch" ] || problem "$f: GOARCH=$(setting "$f" GOARCH), want $arch"
    if [ "$arch" = arm ]; then
      [ "$(setting "$f" GOARM)" = "$arm" ] || problem "$f: GOARM=$(setting "$f" GOARM), want $arm"
    fi
    [ "$(setting "$f" CGO_ENABLED)" = 0 ] || problem "$f: CGO_ENABLED=$(setting "$f" CGO_ENABLED), want 0 (static)"
    if [ -n "$version" ]; then
      # -trimpath keeps -ldflags out of the build info, so look for the stamped string itself.
      grep -qaF -- "$version" "$f" || problem "$f: version '$version' not stamped"
      if [ "$os" = "$host_os" ] && [ "$arch" = "$host_arch" ]; then
        out=$("$f" --version 2>&1 || true)
        case "$out" in
          *"$version"*) ;;
          *) problem "$f --version printed '$out', want it to name $version" ;;
        esac
      fi
    fi
  done
done

if [ "$fail" = 0 ]; then
  echo "check-dist: all artifacts in $dist are static linux builds for amd64, arm64 and arm v7${version:+, version $version}"
fi
exit "$fail"
