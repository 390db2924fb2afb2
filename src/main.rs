fn main() {
    std::process::exit(vipsetup::cli::main());
}
