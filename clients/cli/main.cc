// meshkv: the command-line client. Everything is in the library, for tests.
#include "clients/cli/cli.h"

int main(int argc, char** argv) { return meshkv::cli::Main(argc, argv); }
