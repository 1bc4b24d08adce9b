# bash completion for nshm(1)                              -*- shell-script -*-
# Installed as share/bash-completion/completions/nshm. Self-contained: it
# needs no helper from the bash-completion package.

_nshm_names()
{
	local cur=$1 n
	case $cur in
	file:*)
		local IFS=$'\n'
		COMPREPLY+=($(compgen -f -P file: -- "${cur#file:}"))
		;;
	sysv:*)
		# SysV names live in segment headers: ask nshm (first column).
		COMPREPLY+=($(compgen -W "$(nshm ls 2>/dev/null |
			awk 'NR > 1 && $1 ~ /^sysv:/ { print $1 }')" -- "$cur"))
		;;
	*)
		if [ -d /dev/shm ]; then
			for n in /dev/shm/"$cur"*; do
				[ -f "$n" ] && COMPREPLY+=("${n#/dev/shm/}")
			done
		fi
		COMPREPLY+=($(compgen -W "sysv: file:" -- "$cur"))
		;;
	esac
}

_nshm()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmds="ls list info watch create rm delete gc pub sub bench limits help"
	local cmd=${COMP_WORDS[1]} opts=""
	COMPREPLY=()

	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$cmds --help --version" -- "$cur"))
		return
	fi
	case $cmd in
	ls | list) opts="--json --path --all" ;;
	info) opts="--json" ;;
	watch) opts="--count --interval --json --plain" ;;
	create)
		opts="--mode --excl --huge --prefault --mlock --kind --elem-size
		      --capacity --type-name --type-version --align --seq-offset --json
		      --max-producers --max-consumers --policy --evict-ms
		      --record-max --record-align"
		;;
	rm | delete) opts="--force" ;;
	gc) opts="--force --json --path" ;;
	pub) opts="--hex --raw --text --rate --timeout --type" ;;
	sub) opts="--hex --raw --json --text --count --timeout" ;;
	help)
		COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
		return
		;;
	bench | limits) return ;;
	esac
	case $prev in
	--path)
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	--policy)
		COMPREPLY=($(compgen -W "lossy backpressure" -- "$cur"))
		return
		;;
	-k | --kind)
		COMPREPLY=($(compgen -W "spsc mpmc broadcast records" -- "$cur"))
		return
		;;
	-m | --mode | -e | --elem-size | -c | --capacity | --type-name | \
		--type-version | --align | --seq-offset | --max-producers | \
		--max-consumers | --evict-ms | --record-max | --record-align | \
		-n | --count | \
		-i | --interval | --rate | --timeout | --type)
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
		return
	fi
	_nshm_names "$cur"
}

complete -F _nshm nshm
