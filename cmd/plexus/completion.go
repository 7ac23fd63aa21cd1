package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// completionShells are the shells plexus completion writes a script
// for.
func completionShells() []string { return []string{"bash", "zsh"} }

// completionWriter returns the function that writes the script of shell,
// or nil.
func completionWriter(shell string) func(io.Writer, []completionEntry) {
	switch shell {
	case "bash":
		return writeBashCompletion
	case "zsh":
		return writeZshCompletion
	}
	return nil
}

// completionCommand is `plexus completion bash|zsh`.
func completionCommand() *command {
	cmd := &command{
		name:    "completion",
		summary: "print a shell completion script: bash or zsh",
		help: `usage: plexus completion bash|zsh

Prints a script that completes the commands, subcommands and flags of
plexus in bash or zsh, made from the command table and the flags, so it
always matches this binary. To enable it:

  bash   add to ~/.bashrc:  source <(plexus completion bash)
  zsh    add to ~/.zshrc, after compinit:  source <(plexus completion zsh)
         (or save it as _plexus in a directory of $fpath)
`,
	}
	cmd.setup = func() (*flagSet, runFunc) {
		fs := newFlagSet("completion")
		fs.logging()
		return fs, func(ctx context.Context, c *cli, fs *flagSet) error {
			if len(fs.args) != 1 {
				return usagef(cmd, "want one shell: bash or zsh")
			}
			write := completionWriter(fs.args[0])
			if write == nil {
				return usagef(cmd, "unknown shell %q: want bash or zsh", fs.args[0])
			}
			write(c.stdout, completionTable(commands()))
			return nil
		}
	}
	return cmd
}

// completionEntry is what the shell offers after one command path
// ("" for plexus itself, "cert", "cert node"): the words (subcommands or
// arguments) and the flags.
type completionEntry struct {
	path  string
	words []string
	flags []string
}

// completionTable walks the command table: plexus's commands, each
// command's subcommands or flags, help's commands and completion's
// shells.
func completionTable(cmds []*command) []completionEntry {
	top := completionEntry{}
	for _, cmd := range cmds {
		top.words = append(top.words, cmd.name)
	}
	table := []completionEntry{top}
	var walk func(path string, cmd *command)
	walk = func(path string, cmd *command) {
		e := completionEntry{path: path}
		if cmd.sub != nil {
			for _, sub := range cmd.sub {
				e.words = append(e.words, sub.name)
			}
			table = append(table, e)
			for _, sub := range cmd.sub {
				walk(path+" "+sub.name, sub)
			}
			return
		}
		switch cmd.name {
		case "help":
			e.words = top.words
		case "completion":
			e.words = completionShells()
		}
		fs, _ := cmd.setup()
		for _, fe := range fs.entries {
			for _, n := range fe.names {
				e.flags = append(e.flags, dashes(n))
			}
		}
		e.flags = append(e.flags, "--help")
		table = append(table, e)
	}
	for _, cmd := range cmds {
		walk(cmd.name, cmd)
	}
	return table
}

// parents are the paths of the entries that have subcommands: the
// scripts walk the command line down them.
func parents(table []completionEntry) []string {
	var p []string
	for _, e := range table {
		if e.path != "" && e.flags == nil {
			p = append(p, e.path)
		}
	}
	return p
}

// caseLabel is a path as a case pattern of both shells.
func caseLabel(path string) string { return `"` + path + `"` }

func writeBashCompletion(w io.Writer, table []completionEntry) {
	fmt.Fprintf(w, `# bash completion for plexus, made by 'plexus completion bash'.
# Enable it with: source <(plexus completion bash)

_plexus_commands=%q

_plexus() {
	local cur=${COMP_WORDS[COMP_CWORD]} path="" w i words=""
	COMPREPLY=()
	# The command path so far: the words that are not flags, down the
	# commands that have subcommands.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in -*) continue ;; esac
		case $path in
		"") path=$w ;;
`, strings.Join(table[0].words, " "))
	for _, p := range parents(table) {
		fmt.Fprintf(w, "\t\t%s) path=\"$path $w\" ;;\n", caseLabel(p))
	}
	fmt.Fprint(w, "\t\tesac\n\tdone\n\tif [[ $cur == -* ]]; then\n\t\tcase $path in\n")
	for _, e := range table {
		if len(e.flags) > 0 {
			fmt.Fprintf(w, "\t\t%s) words=%q ;;\n", caseLabel(e.path), strings.Join(e.flags, " "))
		}
	}
	fmt.Fprint(w, "\t\tesac\n\telse\n\t\tcase $path in\n\t\t\"\") words=$_plexus_commands ;;\n")
	for _, e := range table[1:] {
		if len(e.words) > 0 {
			fmt.Fprintf(w, "\t\t%s) words=%q ;;\n", caseLabel(e.path), strings.Join(e.words, " "))
		}
	}
	fmt.Fprint(w, `		esac
	fi
	# Nothing to offer: bash completes file names (-o default).
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}

complete -o default -F _plexus plexus
`)
}

func writeZshCompletion(w io.Writer, table []completionEntry) {
	fmt.Fprintf(w, `#compdef plexus
# zsh completion for plexus, made by 'plexus completion zsh'.
# Enable it with, after compinit: source <(plexus completion zsh)
# or save it as _plexus in a directory of $fpath.

_plexus_commands=(%s)

_plexus() {
	local cmdpath="" w i
	local -a offer
	# The command path so far: the words that are not flags, down the
	# commands that have subcommands.
	for ((i = 2; i < CURRENT; i++)); do
		w=${words[i]}
		[[ $w == -* ]] && continue
		case $cmdpath in
		"") cmdpath=$w ;;
`, strings.Join(table[0].words, " "))
	for _, p := range parents(table) {
		fmt.Fprintf(w, "\t\t%s) cmdpath=\"$cmdpath $w\" ;;\n", caseLabel(p))
	}
	fmt.Fprint(w, "\t\tesac\n\tdone\n\tif [[ ${words[CURRENT]} == -* ]]; then\n\t\tcase $cmdpath in\n")
	for _, e := range table {
		if len(e.flags) > 0 {
			fmt.Fprintf(w, "\t\t%s) offer=(%s) ;;\n", caseLabel(e.path), strings.Join(e.flags, " "))
		}
	}
	fmt.Fprint(w, "\t\tesac\n\telse\n\t\tcase $cmdpath in\n\t\t\"\") offer=($_plexus_commands) ;;\n")
	for _, e := range table[1:] {
		if len(e.words) > 0 {
			fmt.Fprintf(w, "\t\t%s) offer=(%s) ;;\n", caseLabel(e.path), strings.Join(e.words, " "))
		}
	}
	fmt.Fprint(w, `		esac
	fi
	if (( ${#offer} )); then
		compadd -a offer
	else
		_files
	fi
}

if [[ ${funcstack[1]} == _plexus ]]; then
	_plexus "$@"
else
	compdef _plexus plexus
fi
`)
}
