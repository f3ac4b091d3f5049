# bash completion for sockscope(1)                          -*- shell-script -*-
#
# Installed as share/bash-completion/completions/sockscope, which
# bash-completion loads the first time `sockscope` is completed. It uses none
# of bash-completion's helpers, so it also works sourced on its own:
#   source userspace/completion/sockscope.bash
#
# Completes the subcommands, each subcommand's options, the values of the
# options with fixed choices (--backend, --color, --format, --time,
# --ringbuf-size), pids, command names and users for --pid, --comm and
# --user, paths for --pcap and --ready-file, and after `--` a command, then
# its arguments as paths. Keep the option lists in step with
# `sockscope <subcommand> --help`.

_sockscope_reply() {  # WORDS: the words of WORDS that start with $cur
  mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur")
}

_sockscope_files() {
  compopt -o filenames 2>/dev/null  # only inside a completion; a test calls _sockscope directly
  mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

_sockscope_takes_value() {  # OPTION
  case $1 in
    -p | --pid | -c | --comm | --port | --backend | --ringbuf-size | --ready-file | --user | --pcap | --snaplen | \
      --time | --duration | --count | --color | --format | --timeout) return 0 ;;
  esac
  return 1
}

_sockscope() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=''
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  # `--opt=value`: bash splits it at '=' (COMP_WORDBREAKS), into --opt, =, value.
  if [[ $cur == = ]]; then
    cur=
  elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
    prev=${COMP_WORDS[COMP_CWORD - 2]}
  fi
  COMPREPLY=()

  local -r global_opts='-h --help --version -v --verbose'
  local -r subcommands='trace explain doctor'
  local -r shared_opts='-h --help -p --pid -c --comm --port -4 --ipv4 -6 --ipv6 --backend --ringbuf-size
    --ready-file --user --pcap --snaplen --time --duration --count --'

  # The subcommand, and where a command after `--` begins.
  local i word sub='' command_at=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $word == = ]]; then
      ((i++))  # --opt=value: the value
    elif [[ -n $sub && $word == -- ]]; then
      command_at=$((i + 1))
      break
    elif _sockscope_takes_value "$word" && [[ ${COMP_WORDS[i + 1]-} != = ]]; then
      ((i++))  # the option's value, never a subcommand
    elif [[ -z $sub && $word != -* ]]; then
      sub=$word
    fi
  done

  if ((command_at)); then
    if ((COMP_CWORD == command_at)); then
      mapfile -t COMPREPLY < <(compgen -c -- "$cur" | sort -u)
    else
      _sockscope_files
    fi
    return 0
  fi

  case $prev in
    --backend) _sockscope_reply 'auto fentry kprobe tracepoint'; return 0 ;;
    --color) _sockscope_reply 'auto always never'; return 0 ;;
    --format) _sockscope_reply 'text json mermaid'; return 0 ;;
    --time) _sockscope_reply 'rel mono wall'; return 0 ;;
    --ringbuf-size) _sockscope_reply '1 2 4 8 16 32 64 128 256 512 1024'; return 0 ;;
    -p | --pid)
      _sockscope_reply "$(cd /proc && printf '%s ' [0-9]*)"
      return 0
      ;;
    -c | --comm)
      _sockscope_reply "$(sort -u /proc/[0-9]*/comm 2>/dev/null)"
      return 0
      ;;
    --user) mapfile -t COMPREPLY < <(compgen -u -- "$cur"); return 0 ;;
    --pcap | --ready-file) _sockscope_files; return 0 ;;
    --port | --snaplen | --duration | --count | --timeout) return 0 ;;  # a number
  esac

  case $sub in
    '')
      if [[ $cur == -* ]]; then
        _sockscope_reply "$global_opts"
      else
        _sockscope_reply "$subcommands"
      fi
      ;;
    trace) _sockscope_reply "$shared_opts --json --color" ;;
    explain) _sockscope_reply "$shared_opts --format --json --timeout --all-records" ;;
    doctor) _sockscope_reply '-h --help' ;;
  esac
  return 0
}

complete -F _sockscope sockscope
