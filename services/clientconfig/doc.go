// Package clientconfig finds where the sluice CLI talks to: SLUICE_URL and SLUICE_TOKEN from the
// environment, else from the user's config file ($XDG_CONFIG_HOME/sluice/config, else
// ~/.config/sluice/config), which `sluice up` writes as env-file lines (KEY=VALUE). It also names
// the default data folder ($XDG_DATA_HOME/sluice, else ~/.local/share/sluice).
//
// Every function takes the environment as a getenv function, so it is a pure function of its
// inputs and the file system.
package clientconfig
