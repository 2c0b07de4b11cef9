//! The example function as its own binary, for end-to-end tests.
fn main() -> Result<(), lambda_runtime::Error> {
    examples::function_main()
}
