package main

import (
	"context"
	"fmt"
	"strings"
)

// helpCommand is `plexus help [command [subcommand]]`.
func helpCommand() *command {
	cmd := &command{
		name:    "help",
		summary: "print help: the command list, or one command's flags",
		help: `usage: plexus help [command [subcommand]]

Prints the list of commands, or the help of one command: what it does and
its flags. 'plexus <command> -h' prints the same.
`,
	}
	cmd.setup = func() (*flagSet, runFunc) {
		return newFlagSet("help"), func(ctx context.Context, c *cli, fs *flagSet) error {
			if len(fs.args) == 0 {
				fmt.Fprint(c.stdout, mainUsage())
				return nil
			}
			list := commands()
			var found *command
			for i, name := range fs.args {
				if found = findCommand(list, name); found == nil {
					return usagef(cmd, "unknown command %q", strings.Join(fs.args[:i+1], " "))
				}
				list = found.sub
			}
			c.printHelp(c.stdout, found)
			return nil
		}
	}
	return cmd
}
