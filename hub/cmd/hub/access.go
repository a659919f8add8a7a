package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/config"
)

const accessUsage = `usage: hub token add NAME -role viewer|shift_leader|admin [-config FILE]
       hub token list|remove [NAME] [-config FILE]
       hub user add NAME -role viewer|shift_leader|admin [-config FILE]   (the password is read from standard input)
       hub user list|remove [NAME] [-config FILE]

An API token is printed once, by add, and stored only as its SHA-256 hash
in the tokens file (http.tokens_file, default data_dir/tokens.yaml). Send it
as "Authorization: Bearer TOKEN". A user's password is stored as a bcrypt
hash in the users file (http.users_file, default data_dir/users.yaml). A
running hub reads both files again when they change.`

// accessMain runs `hub token ...` (users false) or `hub user ...`.
func accessMain(users bool, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hub token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, accessUsage) }
	cfgPath := fs.String("config", "configs/hub.yaml", "configuration file")
	roleName := fs.String("role", "", "with add: viewer, shift_leader or admin")
	if len(args) == 0 {
		fs.Usage()
		return 2
	}
	verb := args[0]
	// Flags may come before or after the name.
	var pos []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos, rest = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	path, what := cfg.Tokens(), "token"
	if users {
		path, what = cfg.Users(), "user"
	}
	want := map[string]int{"add": 1, "remove": 1, "list": 0}
	n, ok := want[verb]
	if !ok || len(pos) != n {
		fs.Usage()
		return 2
	}
	switch verb {
	case "list":
		err = list(users, path, stdout)
	case "remove":
		var found bool
		if users {
			found, err = auth.RemoveUser(path, pos[0])
		} else {
			found, err = auth.RemoveToken(path, pos[0])
		}
		if err == nil && !found {
			err = fmt.Errorf("no %s named %q in %s", what, pos[0], path)
		}
		if err == nil {
			fmt.Fprintf(stdout, "%s %s removed\n", what, pos[0])
		}
	case "add":
		var role auth.Role
		if role, err = auth.ParseRole(*roleName); err != nil {
			break
		}
		if users {
			var pw []byte
			if pw, err = readPassword(stdin, stderr); err == nil {
				err = auth.AddUser(path, pos[0], role, pw, time.Now())
			}
			if err == nil {
				fmt.Fprintf(stdout, "user %s (%s) saved in %s\n", pos[0], role, path)
			}
			break
		}
		var token string
		if token, err = auth.AddToken(path, pos[0], role, time.Now()); err == nil {
			fmt.Fprintf(stderr, "token %s (%s) added to %s; it is shown this once:\n", pos[0], role, path)
			fmt.Fprintln(stdout, token)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "hub %s %s: %v\n", what, verb, err)
		return 1
	}
	return 0
}

func list(users bool, path string, w io.Writer) error {
	if users {
		us, err := auth.ListUsers(path)
		for _, u := range us {
			fmt.Fprintf(w, "%s\t%s\t%s\n", u.Name, u.Role, u.Created.Format(time.RFC3339))
		}
		return err
	}
	ts, err := auth.ListTokens(path)
	for _, t := range ts {
		fmt.Fprintf(w, "%s\t%s\t%s\n", t.Name, t.Role, t.Created.Format(time.RFC3339))
	}
	return err
}

// readPassword reads one line from stdin: typed at a terminal (without
// echo, asked twice) or piped in.
func readPassword(stdin io.Reader, stderr io.Writer) ([]byte, error) {
	f, isFile := stdin.(*os.File)
	tty := isFile && isTerminal(f)
	r := bufio.NewReader(stdin)
	read := func(prompt string) (string, error) {
		if tty {
			fmt.Fprint(stderr, prompt)
			restore := noEcho(f)
			defer func() { restore(); fmt.Fprintln(stderr) }()
		}
		line, err := r.ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	pw, err := read("password: ")
	if err != nil {
		return nil, err
	}
	if tty {
		again, err := read("again: ")
		if err != nil {
			return nil, err
		}
		if again != pw {
			return nil, errors.New("the passwords differ")
		}
	}
	return []byte(pw), nil
}
