# Presentation helpers of the example scripts (sourced, not run).
# step TEXT prints a heading on stdout; show CMD... prints '$ CMD...' on
# stderr. Each is bold or dim only when its stream is a terminal, and never
# when NO_COLOR is set (https://no-color.org) or TERM is dumb: piped or
# logged output stays plain text. The streams are looked at once, here.
_bold='' _dim='' _off1='' _off2=''
if [ -z "${NO_COLOR:-}" ] && [ "${TERM:-}" != dumb ]; then
  if [ -t 1 ]; then _bold=$'\033[1m' _off1=$'\033[0m'; fi
  if [ -t 2 ]; then _dim=$'\033[2m' _off2=$'\033[0m'; fi
fi
step() { printf '\n%s== %s%s\n' "$_bold" "$*" "$_off1"; }
show() { printf '%s$ %s%s\n' "$_dim" "$*" "$_off2" >&2; }
