"""Engine environments: identity by hash, broken-state detection, and a runner that never hides a failure."""

import sys

import pytest

from agentlab.engines import envs
from agentlab.procs import CommandError, run_logged
from agentlab.errors import AgentlabError
from conftest import run_cli


def test_key_depends_on_pins_and_patches(monkeypatch, tmp_path):
    train = envs.engine('train')
    key = envs.env_key(train)
    assert envs.env_path(train).name == f'train-{key}'
    fake_configs = tmp_path / 'configs'
    (fake_configs / 'envs').mkdir(parents=True)
    for name in ('train.txt', 'constraints-cpu.txt'):
        (fake_configs / 'envs' / name).write_bytes((envs._envs_config_dir() / name).read_bytes())
    monkeypatch.setattr(envs.paths, 'configs_dir', lambda: fake_configs)
    assert envs.env_key(train) == key
    with open(fake_configs / 'envs' / 'train.txt', 'a') as fh:
        fh.write('six==1.16.0\n')
    assert envs.env_key(train) != key


def test_unknown_engine():
    with pytest.raises(AgentlabError, match='unknown engine'):
        envs.parse_engine_list('train,nope')


def test_states_missing_and_half_built(isolated_home):
    bench = envs.engine('bench')
    assert envs.state(bench).status == 'missing'
    envs.env_path(bench).mkdir(parents=True)           # as left by a Ctrl-C during setup
    st = envs.state(bench)
    assert st.status == 'broken' and 'half-built' in st.detail and 'agentlab setup --engines bench' in st.detail
    (envs.env_path(bench) / envs.MARKER).write_text('{}')  # marker but no interpreter: the import check fails
    assert envs.state(bench).status == 'broken'


def test_serve_is_refused_without_cuda(monkeypatch):
    monkeypatch.setenv('AGENTLAB_FORCE_NO_CUDA', '1')
    with pytest.raises(AgentlabError, match='--engine transformers'):
        envs.ensure(envs.engine('serve'))


def test_runner_returns_real_exit_code_and_reason():
    out = run_logged([sys.executable, '-c', 'print("fine")'], log=None)
    assert out.strip() == 'fine'
    with pytest.raises(CommandError) as err:
        run_logged([sys.executable, '-c', 'import sys; print("step 1"); raise SystemExit(3)'], log=None)
    assert err.value.returncode == 3 and 'exit 3' in str(err.value)
    with pytest.raises(CommandError) as err:
        run_logged([sys.executable, '-c', 'raise ValueError("bad config value")'], log=None)
    assert 'ValueError: bad config value' in str(err.value) and '\n' not in str(err.value)


def test_runner_explains_known_engine_failures():
    code = ('print("RuntimeError: CUDA is required but not available for bitsandbytes. Please consider '
            'installing the multi-platform enabled version"); raise SystemExit(1)')
    with pytest.raises(CommandError, match='needs a CUDA GPU.*smollm2-135m-lora-cpu'):
        run_logged([sys.executable, '-c', code], log=None)
    code = 'print("ValueError: end should be larger than begin, but got begin=0, end=0"); raise SystemExit(1)'
    with pytest.raises(CommandError, match='too small for the schedule'):
        run_logged([sys.executable, '-c', code], log=None)


@pytest.mark.engines
def test_failing_engine_command_fails_the_caller():
    """A command inside the real train environment: success passes through, failure raises with its code."""
    out = envs.run_in_env('train', ['-c', 'import transformers; print(transformers.__version__)'], log=None,
                          setup=False)
    assert out.strip().splitlines()[-1] == '4.48.0'
    with pytest.raises(CommandError) as err:
        envs.run_in_env('train', ['-c', 'import sys; sys.exit(7)'], log=None, setup=False)
    assert err.value.returncode == 7


def test_run_in_env_refuses_a_missing_env_without_setup(isolated_home):
    with pytest.raises(AgentlabError, match='agentlab setup --engines bench'):
        envs.run_in_env('bench', ['-c', 'pass'], log=None, setup=False)


@pytest.mark.engines
def test_doctor_reports_real_envs_ok():
    res = run_cli('doctor')
    assert res.returncode == 0, res.stdout + res.stderr
    for name in ('env:train', 'env:bench', 'env:bfcl', 'model:smollm2-135m'):
        line = next(ln for ln in res.stdout.splitlines() if name in ln)
        assert ' ok ' in line, line


def test_doctor_exits_1_on_a_broken_env(isolated_home):
    envs.env_path(envs.engine('train')).mkdir(parents=True)
    res = run_cli('doctor', '--no-imports', env={'AGENTLAB_HOME': str(isolated_home)})
    assert res.returncode == 1
    assert 'broken' in res.stdout and 'env:train' in res.stderr
    line = next(ln for ln in res.stdout.splitlines() if 'env:bench' in ln)
    assert 'missing' in line


def test_cli_errors_are_one_line(isolated_home):
    res = run_cli('setup', '--engines', 'nope', env={'AGENTLAB_HOME': str(isolated_home)})
    assert res.returncode == 1
    assert res.stderr.strip() == "agentlab: error: unknown engine 'nope'; choose from train, bench, bfcl, llamacpp, serve"
    res = run_cli('models', 'pull', 'nope', env={'AGENTLAB_HOME': str(isolated_home)})
    assert res.returncode == 1 and res.stderr.count('\n') == 1 and 'unknown registered model' in res.stderr


def test_cli_help_and_models_list():
    res = run_cli('--help')
    assert res.returncode == 0 and 'doctor' in res.stdout and 'models' in res.stdout
    res = run_cli('models', 'list')
    assert res.returncode == 0 and 'smollm2-135m' in res.stdout and 'Apache-2.0' in res.stdout
