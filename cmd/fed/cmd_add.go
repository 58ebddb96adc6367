package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/repo"
)

type addOptions struct {
	force bool
	paths []string
}

func newAddCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "add",
		Usage:     "stage files for the next commit",
		ArgsUsage: "PATH...",
		Description: "Stores the files (or every file under the directories) and stages them.\n" +
			"Model files fed understands are stored tensor by tensor: safetensors, PyTorch\n" +
			"checkpoints (torch.save: .pt .pth .bin .ckpt), NumPy (.npy .npz) and ONNX (.onnx).\n" +
			"A path deleted from the working tree stages its removal. A recognised model\n" +
			"file fed keeps opaque (legacy torch pickle, TorchScript, compressed .npz, ...)\n" +
			"is stored whole, with a warning saying why. Solana keypair files (secret keys)\n" +
			"are refused unless --force.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "add files even when .fedignore ignores them, and Solana keypair files"},
		},
		Action: func(c *cli.Context) error {
			_, paths, _ := splitDashDashAll(c.Args().Slice())
			return runAdd(c.Context, addOptions{force: c.Bool("force"), paths: paths}, e)
		},
	}
}

func runAdd(ctx context.Context, opts addOptions, e *env) error {
	if len(opts.paths) == 0 {
		return &usageError{msg: "nothing specified, nothing added", hint: "maybe you wanted to say 'fed add .'?"}
	}
	r, err := e.openRepo(false)
	if err != nil {
		return err
	}
	return r.Add(ctx, e.paths(opts.paths), repo.AddOptions{Force: opts.force})
}
