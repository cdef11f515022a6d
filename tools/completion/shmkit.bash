# Bash completion for shmkit: subcommands, each subcommand's options, the
# values of options that take a word from a fixed set, and segment specs
# from `shmkit ls` for the commands that take a spec (only channels for
# `shmkit chan`, only heaps for `shmkit heap`). Installed to
# share/bash-completion/completions/shmkit; to try it without installing:
#   source tools/completion/shmkit.bash
# It runs the shmkit that is being completed (COMP_WORDS[0]), so
# ./build/shmkit completes with the build's own listing.

# _shmkit_opts GROUP SUB: the options of a subcommand.
_shmkit_opts() {
  case "$1 $2" in
    " ls") echo "--json --posix --sysv --backend --dir --no-procs --help" ;;
    " info") echo "--json --help" ;;
    " create") echo "--mode --huge --prefault --no-reserve --ephemeral --hold --help" ;;
    " rm") echo "--force --help" ;;
    " write") echo "--offset --force --help" ;;
    " resize") echo "--force --help" ;;
    " gc") echo "--dry-run --help" ;;
    " top") echo "--once --iterations --delay --backend --dir --help" ;;
    "chan create") echo "--kind --capacity --max-msg --endpoints --writers --wait-readers --mode --help" ;;
    "chan send") echo "--timeout --wait --help" ;;
    "chan recv") echo "--count --oldest --timeout --wait --help" ;;
    "heap create") echo "--max --mode --help" ;;
    "heap stat" | "heap ls") echo "--json --help" ;;
    *) echo "--help" ;;
  esac
}

# _shmkit_takes_arg GROUP SUB OPT: whether OPT consumes the next word.
_shmkit_takes_arg() {
  case "$3" in
    --mode | -m | --offset | -o | --kind | -k | --capacity | -c | --max-msg | \
      --endpoints | --writers | --timeout | -t | --wait | --count | --max | \
      --backend | -b | --dir | --iterations | --delay) return 0 ;;
    -n) [ "$2" = top ] || [ "$1 $2" = "chan recv" ] ;;
    -d) [ "$2" = top ] ;;
    *) return 1 ;;
  esac
}

# _shmkit_specs CLI KIND: the specs `shmkit ls` shows; KIND (channel,
# heap) keeps only those that hold one.
_shmkit_specs() {
  "$1" ls --no-procs 2>/dev/null |
    awk -v kind="$2" 'NR > 1 && (kind == "" || $NF == kind) { print $1 }'
}

# Readline splits words at ':' (COMP_WORDBREAKS), so "posix:/a" arrives
# as "posix" ":" "/a": join them again into words[] and cword, as the
# bash-completion package's _get_comp_words_by_ref -n : would.
_shmkit_join_words() {
  local i w
  words=() cword=0
  for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
    w=${COMP_WORDS[i]}
    if [ "$i" -gt 1 ] && { [ "$w" = : ] || [[ ${words[-1]} == *: ]]; }; then
      words[-1]+=$w
    else
      words+=("$w")
    fi
    [ "$i" -eq "$COMP_CWORD" ] && cword=$((${#words[@]} - 1))
  done
  if [ "$COMP_CWORD" -ge "${#COMP_WORDS[@]}" ]; then
    words+=("")
    cword=$((${#words[@]} - 1))
  fi
}

# Readline replaces only the part of the word after the last ':', so the
# replies must not repeat what comes before it.
_shmkit_trim_colon() {
  local cur=$1 pre i
  [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]] || return 0
  pre=${cur%"${cur##*:}"}
  for i in "${!COMPREPLY[@]}"; do
    COMPREPLY[i]=${COMPREPLY[i]#"$pre"}
  done
}

_shmkit() {
  local words cword
  _shmkit_join_words
  _shmkit_complete
  _shmkit_trim_colon "${words[cword]}"
  return 0
}

_shmkit_complete() {
  local cur=${words[cword]} prev=""
  local cli=${words[0]} group="" sub="" nops=0 i w skip=0
  local cmds="ls info who create rm cat write resize gc top demo chan heap help"
  [ "$cword" -gt 0 ] && prev=${words[cword - 1]}
  COMPREPLY=()

  # What is already there: the subcommand (and the group's), and how many
  # operands follow it before the word being completed.
  for ((i = 1; i < cword; i++)); do
    w=${words[i]}
    if [ "$skip" -eq 1 ]; then skip=0; continue; fi
    case "$w" in
      --*=*) continue ;;
      -?*)
        _shmkit_takes_arg "$group" "$sub" "$w" && skip=1
        continue ;;
    esac
    if [ -z "$sub" ]; then
      sub=$w
    elif [ -z "$group" ] && { [ "$sub" = chan ] || [ "$sub" = heap ]; }; then
      group=$sub sub=$w
    else
      nops=$((nops + 1))
    fi
  done

  if [ -z "$sub" ]; then
    COMPREPLY=($(compgen -W "$cmds --help --version" -- "$cur"))
    return 0
  fi
  if [ "$sub" = chan ] || [ "$sub" = heap ]; then
    if [ "$sub" = chan ]; then
      COMPREPLY=($(compgen -W "create stat send recv rm" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "create stat ls check get unname rm" -- "$cur"))
    fi
    return 0
  fi
  if [ "$sub" = help ]; then
    [ "$nops" -eq 0 ] && COMPREPLY=($(compgen -W "${cmds% help}" -- "$cur"))
    return 0
  fi

  # The value of the option before.
  case "$prev" in
    --kind | -k) COMPREPLY=($(compgen -W "spsc mpmc broadcast" -- "$cur")); return 0 ;;
    --backend | -b) COMPREPLY=($(compgen -W "posix sysv file" -- "$cur")); return 0 ;;
    --wait) COMPREPLY=($(compgen -W "adaptive spin block" -- "$cur")); return 0 ;;
    --dir) COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
  esac
  _shmkit_takes_arg "$group" "$sub" "$prev" && return 0

  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_shmkit_opts "$group" "$sub")" -- "$cur"))
    return 0
  fi

  # Operands.
  local kind=""
  case "$group" in
    chan) kind=channel ;;
    heap) kind=heap ;;
  esac
  case "$group $sub" in
    " create" | "chan create" | "heap create")
      if [ "$nops" -eq 0 ]; then
        if [[ $cur == file:* ]]; then
          COMPREPLY=($(compgen -f -P file: -- "${cur#file:}"))
        else
          COMPREPLY=($(compgen -W "posix:/ sysv: sysv:private file: memfd:" -- "$cur"))
          compopt -o nospace 2>/dev/null
        fi
      fi ;;
    " gc") COMPREPLY=($(compgen -d -- "$cur")) ;;
    " rm" | "chan rm" | "heap rm")
      COMPREPLY=($(compgen -W "$(_shmkit_specs "$cli" "$kind")" -- "$cur")) ;;
    " info" | " who" | " cat" | " write" | " resize" | \
      "chan stat" | "chan send" | "chan recv" | \
      "heap stat" | "heap ls" | "heap check" | "heap get" | "heap unname")
      [ "$nops" -eq 0 ] &&
        COMPREPLY=($(compgen -W "$(_shmkit_specs "$cli" "$kind")" -- "$cur")) ;;
    " ls" | " top") ;;  # PATTERN: anything
  esac
  return 0
}

complete -F _shmkit shmkit
