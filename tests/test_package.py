"""The package as a whole: what importing it pulls in, its version, and its commands."""

import ast
import subprocess
import sys
from pathlib import Path

import tomllib

import gptlite

ROOT = Path(__file__).resolve().parents[1]


def test_the_teaching_core_imports_with_numpy_and_regex_alone():
    """requests and tqdm are for downloads and progress bars: the model, tokenizer and sampler never need them."""
    code = (
        "import sys\n"
        "sys.modules['requests'] = sys.modules['tqdm'] = None  # importing either now fails\n"
        "import gptlite, gptlite.model, gptlite.tokenizer, gptlite.sampling, gptlite.hooks, gptlite.backprop\n"
        "from gptlite import GPT, Config, Sampler, Tokenizer\n"
        "from gptlite.model import init_params\n"
        "config = Config(n_vocab=50, n_ctx=8, n_embd=8, n_head=2, n_layer=1)\n"
        "assert len(GPT(config, init_params(config), None).generate([1, 2], 3)) == 3\n"
        "assert Tokenizer.from_pretrained('gpt2').encode('Hello world') == [15496, 995]\n"
        "assert 'gptlite.weights.hub' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_one_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert gptlite.__version__.count(".") >= 2


def test_every_command_is_a_console_script():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    commands = ["generate", "download", "convert", "train", "train_tokenizer", "inspect", "eval", "tokenize"]
    assert scripts == {f"gptlite-{c.replace('_', '-')}": f"gptlite.{c}:main" for c in commands}
    for command in commands:
        assert callable(__import__(f"gptlite.{command}", fromlist=["main"]).main)


COMMANDS = {"generate", "download", "convert", "train", "train_tokenizer", "inspect", "eval", "tokenize", "cli"}


def import_graph(inside_functions=True):
    """{module: {modules of gptlite it imports}}, read from the source; imports inside functions count too,
    unless inside_functions=False (then: what importing the module imports)."""
    graph = {}
    for path in (ROOT / "gptlite").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if parts[-1] == "__init__" else module.rsplit(".", 1)[0]
        imported = set()
        for node in nodes(ast.parse(path.read_text()), inside_functions):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
                names = {f"{target}.{alias.name}" for alias in node.names}  # a name may be a module
                imported |= names | ({target} if node.module else set())
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gptlite"):
                imported |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names if alias.name.startswith("gptlite")}
        graph[module] = imported
    # The package's __init__ is its front door, importing the public classes; modules are what may not cycle.
    return {module: {m for m in imported if m in graph and m not in (module, "gptlite")}
            for module, imported in graph.items()}  # fmt: skip


def nodes(tree, inside_functions):
    """Every node of the tree, or those outside function bodies."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if inside_functions or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            todo.extend(ast.iter_child_nodes(node))


def reachable(graph, start):
    seen, todo = set(), [start]
    while todo:
        for module in graph[todo.pop()] - seen:
            seen.add(module)
            todo.append(module)
    return seen


def test_no_import_cycles_counting_imports_inside_functions():
    graph = import_graph()
    assert "gptlite.gpt" in graph and "gptlite.scoring" in graph["gptlite.gpt"]  # the walk sees function imports
    cycles = sorted(m for m in graph if m in reachable(graph, m) and m != "gptlite")
    assert cycles == [], f"modules on an import cycle: {cycles}"


def test_library_modules_import_no_command_module():
    graph = import_graph()
    library = [m for m in graph if m.split(".")[-1] not in COMMANDS and m != "gptlite"]
    assert len(library) > 20
    for module in library:
        commands = sorted(m for m in graph[module] if m.split(".")[-1] in COMMANDS)
        assert commands == [], f"{module} imports the command modules {commands}"


def test_the_tokenizer_needs_neither_the_model_nor_the_weights_to_tokenize():
    graph, at_import = import_graph(), reachable(import_graph(inside_functions=False), "gptlite.tokenizer")
    assert not {m for m in at_import if m == "gptlite.model" or m.startswith("gptlite.weights")}, at_import
    assert "gptlite.weights.hub" in graph["gptlite.tokenizer"]  # only for a repo id, inside from_pretrained
    assert all("gptlite.tokenizer" not in graph[m] for m in graph if m.startswith("gptlite.weights"))
