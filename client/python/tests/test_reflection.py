"""Server reflection lists and describes every service sextantd serves, the standard health
service included, so generic tools (grpcurl, grpc-health-probe, Postman) work against it."""

from __future__ import annotations

import shutil
import subprocess

import grpc
import pytest
from google.protobuf import descriptor_pool

from conftest import Sextantd

reflection_db = pytest.importorskip(
    "grpc_reflection.v1alpha.proto_reflection_descriptor_database",
    reason="grpcio-reflection is not installed (pip install 'sextant-client[test]')",
)

from google.protobuf.message_factory import GetMessageClass


def test_every_listed_service_resolves(server: Sextantd) -> None:
    with grpc.insecure_channel(server.address) as channel:
        db = reflection_db.ProtoReflectionDescriptorDatabase(channel)
        services = set(db.get_services())
        assert {"sextant.v1.Sextant", "grpc.health.v1.Health"} <= services, services
        pool = descriptor_pool.DescriptorPool(db)
        for name in sorted(services):
            service = pool.FindServiceByName(name)
            assert service.methods, name
            for method in service.methods:
                assert method.input_type.full_name and method.output_type.full_name

        # Call Health/Check with messages built from the reflected descriptors alone.
        health = pool.FindServiceByName("grpc.health.v1.Health")
        check = health.FindMethodByName("Check")
        request_cls = GetMessageClass(check.input_type)
        response_cls = GetMessageClass(check.output_type)
        call = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_cls.FromString,
        )
        for service_name in ["", "sextant.v1.Sextant"]:
            request = request_cls()
            setattr(request, "service", service_name)
            answer = call(request, timeout=10)
            assert answer.status == check.output_type.enum_types_by_name["ServingStatus"].values_by_name[
                "SERVING"
            ].number


def test_grpcurl_health_check(server: Sextantd) -> None:
    grpcurl = shutil.which("grpcurl")
    if grpcurl is None:
        pytest.skip("grpcurl is not on PATH")
    out = subprocess.run(
        [grpcurl, "-plaintext", server.address, "grpc.health.v1.Health/Check"],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert "SERVING" in out.stdout
