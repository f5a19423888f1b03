package java

import "embed"

// Sources holds the bootstrap's Java sources (package dev.sluice.runtime), compiled into a jar
// by the catalog.
//
//go:embed *.java
var Sources embed.FS

// API lists the sources a function's code compiles against (the Context and LambdaLogger
// interfaces); a deploy-time build of .java sources puts them on javac's source path.
var API = []string{"Context.java", "LambdaLogger.java"}

// MainClass is the class the runtime starts.
const MainClass = "dev.sluice.runtime.Bootstrap"
