#!/usr/bin/env node
// Workspace bin shim: npm links it at install time, before dist/ exists.
import "../dist/src/main.js";
