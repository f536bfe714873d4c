#!/bin/sh
# Written by wslbox: first-run setup for `wsl --install --from-file`. WSL runs this as root on
# the first interactive launch and makes UID 1000 (defaultUid in /etc/wsl-distribution.conf)
# the default user; a non-zero exit refuses the shell, so the next launch asks again.
set -u
uid=1000

if cut -d: -f3 /etc/passwd | grep -qx "$uid"; then
    echo "A user with UID $uid already exists; nothing to set up."
    exit 0
fi

admin=
for group in sudo wheel; do
    if grep -q "^$group:" /etc/group; then admin=$group; break; fi
done
shell=/bin/sh
if [ -x /bin/bash ]; then shell=/bin/bash; fi

# Appends a line, adding the newline a file without a trailing one lacks.
append() {
    if [ -s "$1" ] && [ -n "$(tail -c 1 "$1")" ]; then echo >> "$1"; fi
    printf '%s\n' "$2" >> "$1"
}

echo 'Create a default Unix user account. The name does not need to match your Windows user name.'
while :; do
    printf 'Enter new UNIX username: '
    IFS= read -r name || exit 1
    case $name in
        ''|*[!a-z0-9_-]*|[!a-z_]*)
            echo 'Use lowercase letters, digits, "_" and "-", starting with a letter or "_".'
            continue ;;
    esac
    if [ ${#name} -gt 32 ]; then echo 'Use at most 32 characters.'; continue; fi
    if cut -d: -f1 /etc/passwd | grep -qx "$name"; then echo "User $name already exists."; continue; fi
    break
done

if command -v useradd >/dev/null 2>&1; then
    useradd -m -U -u "$uid" -s "$shell" "$name" || exit 1
elif command -v adduser >/dev/null 2>&1 && adduser 2>&1 | grep -qi busybox; then
    adduser -D -u "$uid" -s "$shell" "$name" || exit 1
else
    gid=$uid
    while cut -d: -f3 /etc/group | grep -qx "$gid"; do gid=$((gid + 1)); done
    append /etc/passwd "$name:x:$uid:$gid::/home/$name:$shell"
    append /etc/group "$name:x:$gid:"
    if [ -f /etc/shadow ]; then append /etc/shadow "$name:!:$(($(date +%s) / 86400)):0:99999:7:::"; fi
    mkdir -p "/home/$name" || exit 1
    if [ -d /etc/skel ]; then cp -a /etc/skel/. "/home/$name/"; fi
    chown -R "$uid:$gid" "/home/$name" && chmod 0750 "/home/$name" || exit 1
fi

if [ -n "$admin" ]; then
    if command -v usermod >/dev/null 2>&1; then
        usermod -a -G "$admin" "$name"
    elif command -v addgroup >/dev/null 2>&1 && addgroup 2>&1 | grep -qi busybox; then
        addgroup "$name" "$admin"
    else
        sed -i -e "/^$admin:/{s/:\$/:$name/;t" -e "s/\$/,$name/" -e "}" /etc/group
    fi
fi

if command -v passwd >/dev/null 2>&1; then
    tries=0
    until passwd "$name"; do
        tries=$((tries + 1))
        if [ "$tries" -ge 5 ]; then
            echo "No password set; set one later with: passwd $name"
            break
        fi
        echo 'Try again.'
    done
else
    echo "There is no passwd command: $name has no password (the account is locked for password logins)."
fi
exit 0
